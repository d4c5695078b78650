"""User-facing errors: the CLI prints them as one line (no traceback unless --debug)."""


class NlpError(Exception):
    """A problem with the user's input, files or configuration, explained in the message (exit status 2)."""

    exit_code = 2


class OutputError(NlpError):
    """The results could not be written (disk full, permission lost mid-run): exit status 3, distinct from 1
    ("some records failed") and 2 (bad usage or input). What was written stays in ``FILE.partial``."""

    exit_code = 3


def where(path, line: int | None = None) -> str:
    """``path:line`` prefix for error messages."""
    return f"{path}:{line}" if line is not None else str(path)
