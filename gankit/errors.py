"""User-facing errors.

A :class:`GankitError` carries a one-line message that names the file or key at fault and
what was expected. The CLI prints it without a traceback and exits with status 2.
"""


class GankitError(Exception):
    """An error caused by user input (config, data, files); printed as one line."""


class ConfigError(GankitError):
    """A config key or value is wrong."""


class DataError(GankitError):
    """A dataset file or folder is missing, empty or unreadable."""


class CheckpointError(GankitError):
    """A checkpoint is missing, unreadable or incompatible with the requested config."""


class TrainingDiverged(GankitError):
    """A loss or parameter became NaN/Inf during training."""


class Stopped(GankitError):
    """Work stopped early by a signal or the time budget, after saving what it had.

    ``code`` is the exit status (130: a signal, 124: ``train.max_time``); running the same
    command again (``--resume`` for ``gankit train``) continues it."""

    def __init__(self, message: str, code: int = 130):
        super().__init__(message)
        self.code = code
