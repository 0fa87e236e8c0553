"""The one base of the errors a person reads: a message of one line, the details IT needs
(a file, a setting, a line number) apart from it, and the exit code a command ends with.
Front ends catch `Refusal` and print `str(error)` (the details first, then the message) on
one line, never a traceback; a trainee's tray shows `message` and keeps `details` for
"Details…". Nothing imported here: the hook command's fast path may load it.

Under it: the policy's and the configuration's (core), the vault's, the audit trail's, the
key store's, the review module's, the console's, the command line's, the hook's and the call
sources' errors, the locator's, the data folder's. Errors that never reach a person (a state
machine's invalid transition, a reader that falls back, a protocol frame to skip) are not."""


class Refusal(RuntimeError):
    """Refused, or failed, in words for the person who asked: `message` (one line), `details`
    (where, for IT; may be empty) and `code` (the command's exit code)."""

    def __init__(self, message: str, code: int = 1, *, details: str = "") -> None:
        super().__init__(f"{details}: {message}" if details else message)
        self.message = message
        self.details = details
        self.code = code
