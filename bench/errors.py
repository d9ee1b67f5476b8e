"""The harness's own errors. A UsageError is bad input: the CLI prints its one line and exits 2."""


class UsageError(Exception):
    """Bad input from the user: the message names the problem and the fix."""
