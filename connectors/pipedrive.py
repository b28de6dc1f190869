"""The pipedrive connector (not yet built; registers nothing)."""
