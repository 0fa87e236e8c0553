"""The demo and the tools around the product, not the product: `agentapp demo` (run.py), the
sample windows it and the tests open (sample_window.py), the private virtual desktop they
run on (virtual_display.py: Xvfb, a window manager, a tray), and the README's screenshots
(screenshots.py, console_screenshots.py). Nothing outside demo/ but the `demo` command
imports it (tests/unit/test_layers.py)."""
