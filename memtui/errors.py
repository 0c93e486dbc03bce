"""The one exception type every layer raises for a failure the user should read."""

EXIT_RUNTIME = 1
EXIT_USAGE = 2


class MemtuiError(Exception):
    """A failure with a one-line message, an optional hint and the exit code it maps to."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = EXIT_RUNTIME):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(MemtuiError):
    """Bad usage or bad input: exit code 2."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint, exit_code=EXIT_USAGE)


class TargetGone(MemtuiError):
    """The target process exited or the connection to it was lost."""
