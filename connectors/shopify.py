"""The shopify connector (not yet built; registers nothing)."""
