"""User-facing errors: the CLI prints them as one line (no traceback unless --debug)."""


class NlpError(Exception):
    """A problem with the user's input, files or configuration, explained in the message."""


def where(path, line: int | None = None) -> str:
    """``path:line`` prefix for error messages."""
    return f"{path}:{line}" if line is not None else str(path)
