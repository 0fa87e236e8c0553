"""The trainer console's window (`agentapp console`): one widget per tab, assembled by
`window.ConsoleWindow`. All decisions live in agentapp.trainer.console.ConsoleModel; the tabs only
lay out widgets and turn clicks into model calls, showing the model's refusals as they are.

Threading: Qt thread only."""

from agentapp.ui.console.window import ConsoleWindow, run_console

__all__ = ["ConsoleWindow", "run_console"]
