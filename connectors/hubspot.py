"""The hubspot connector (not yet built; registers nothing)."""
