"""User-facing errors.

Every error a person can cause (a bad model name, a missing file, n < 1) is a `ThinktimeError`
whose message says what was wrong and what to do. The CLI prints it on one line and exits 2;
library callers catch it like any exception.

    >>> raise ThinktimeError("unknown strategy 'vote'; choose one of: cot, direct")
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: unknown strategy 'vote'; choose one of: cot, direct
"""


class ThinktimeError(Exception):
    """An error caused by input, with a message meant for a person."""


class ModelError(ThinktimeError):
    """A model could not be resolved, assembled, verified or loaded."""


class BackendError(ThinktimeError):
    """An engine or server refused or failed a generation request."""
