"""The only package that grabs pixels (mss) and encodes video (PyAV)."""
