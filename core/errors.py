"""The errors core raises at a user: each message says what went wrong and what to change."""


class ConfigError(ValueError):
    """An invalid training setting. `field` names the setting so a page can show the message beside it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class TrainingDiverged(RuntimeError):
    """A step made the loss or the weights non-finite; the trainer stays at its last finite state."""

    def __init__(self, step: int, message: str):
        super().__init__(message)
        self.step = step
        self.message = message
