"""The two ways a run ends badly that are not bugs: the CLI prints either as one line, never a traceback."""


class UserError(Exception):
    """Bad input (unknown project, bad --set value, missing data file, ...): one line, exit 2."""


class RunFailed(Exception):
    """A run that cannot go on (its loss became NaN or infinite, ...): status.json says failed, one line, exit 1."""
