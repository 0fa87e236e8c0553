"""A site: the signed policy that every agent obeys, and where agents deliver recordings."""
