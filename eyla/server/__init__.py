"""`eyla serve`: Eyla behind an OpenAI-compatible HTTP API (`app.create_app`).

Every request runs through `Agent.turn()` on one model worker thread, so identity
anchoring, memory, the guard and the confidence gate apply exactly as in the terminal.
Nothing is imported here, so that `eyla --help` does not load the server's dependencies.
"""
