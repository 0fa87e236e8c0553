"""The one base of the errors a person reads: a message of one line, and the exit code a
command ends with. Front ends catch `Refusal` and print its message, never a traceback.
Nothing imported here: the hook command's fast path may load it.

Domain errors join it one by one (vault/review.py's ReviewError, the command line's
CliError first)."""


class Refusal(Exception):
    """Refused, or failed, in words for the person who asked (one line)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
