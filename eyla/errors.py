"""User-facing errors: the CLI prints these as one line and exits non-zero."""


class EylaError(Exception):
    """A problem the user can fix (bad path, corrupt file, invalid input)."""
