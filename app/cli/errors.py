"""Errors the CLI reports without a traceback."""


class CommandError(Exception):
    """A problem the user can fix; printed as one message, exit status 2."""
