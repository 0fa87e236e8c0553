"""agentapp: training-only screen video of one business window, only during phone calls."""

__version__ = "0.1.0"
