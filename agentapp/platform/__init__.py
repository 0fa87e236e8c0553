"""Per-desktop adapters behind the small interfaces of base.py, picked by
`factory.create_desktop()`."""
