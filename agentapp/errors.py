"""The one base of the errors a person reads: a message of one line, and the exit code a
command ends with. Front ends catch `Refusal` and print its message, never a traceback.
Nothing imported here: the hook command's fast path may load it.

The vault's, the audit trail's, the key store's, the console's, the review module's and the
command line's errors derive from it. core/ keeps its own (PolicyError, ConfigError: core
imports only core)."""


class Refusal(RuntimeError):
    """Refused, or failed, in words for the person who asked (one line)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
