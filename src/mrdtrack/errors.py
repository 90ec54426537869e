"""Errors that are the user's to fix (exit status 2 at the command line)."""


class UserError(Exception):
    """Bad input or arguments: the CLI prints the message (no traceback) and exits 2."""
