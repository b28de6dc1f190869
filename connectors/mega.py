"""The mega connector (not yet built; registers nothing)."""
