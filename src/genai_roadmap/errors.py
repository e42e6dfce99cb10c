"""One exception type for mistakes a user can fix: the CLI prints its message as one line and exits 2."""


class UserError(Exception):
    """Bad input (unknown project, bad --set value, missing data file, ...). Never shown as a traceback."""
