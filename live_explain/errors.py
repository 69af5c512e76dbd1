"""Errors a user can cause and fix: the CLI prints them as one line and exits 2."""


class UserError(Exception):
    """A problem with the user's input (a path, a URL, an option), not a bug.

    The message is one line that names the problem and, where it helps, the fix.
    """


class SourceError(UserError):
    """A frame source could not be opened or read."""
