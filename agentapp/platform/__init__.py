"""Per-OS adapters behind small interfaces, picked by `factory.create_locator()`."""
