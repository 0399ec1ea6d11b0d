"""User-facing errors: the CLI prints these as one line and exits non-zero."""

from pydantic import ValidationError


class EylaError(Exception):
    """A problem the user can fix (bad path, corrupt file, invalid input)."""


def first_problem(exc: ValidationError, default: str) -> tuple[str, str]:
    """Where and what the first error of a pydantic validation is, for a one-line message."""
    problem = exc.errors()[0]
    return ".".join(str(part) for part in problem["loc"]) or default, problem["msg"]
