"""Encrypted recordings at rest: sealing, key handling, segment store, export."""
