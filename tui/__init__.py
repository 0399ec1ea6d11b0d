"""Eyla's terminal UI: a Textual app fronting the same `Agent` the CLI uses."""
