"""The pure core: no Qt, no OS calls, no threads of its own. Unit-testable in milliseconds."""
