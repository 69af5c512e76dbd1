"""Errors a user can cause and fix: the CLI prints them as one line and exits 2."""


class UserError(Exception):
    """A problem with the user's input (a path, a URL, an option), not a bug.

    The message is one line that names the problem and, where it helps, the fix.
    """


class SourceError(UserError):
    """A frame source could not be opened or read."""


def one_line(text: object, limit: int = 300) -> str:
    """``text`` on one line of at most ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _system_error(exc: OSError) -> str:
    """A failure of the system (a full disk, a permission, a lost drive) in one line."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = exc.filename if exc.filename is not None else None
    return one_line(f"{where}: {reason}" if where else reason)


def unexpected_error(exc: BaseException) -> str:
    """The one line for what escaped a command: memory, the system, or a bug."""
    if isinstance(exc, MemoryError):
        return "out of memory; try a smaller --topk, a smaller input or --device cpu"
    if isinstance(exc, OSError):
        return _system_error(exc)
    return (
        f"internal error ({type(exc).__name__}: {one_line(exc, 200)}); please report it; "
        "run with --debug for the traceback"
    )
