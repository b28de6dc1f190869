"""The ghl connector (not yet built; registers nothing)."""
