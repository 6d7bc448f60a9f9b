"""User-facing errors: each names the problem and the fix."""


class UserError(Exception):
    """A problem with the user's input (files, flags, values) rather than a bug.

    The CLI prints these without a traceback. Messages say what is wrong and how
    to fix it.
    """


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""
