"""Eyla: a local-first agent OS around an identity-anchored language model."""

__version__ = "0.1.0"
