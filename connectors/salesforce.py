"""The salesforce connector (not yet built; registers nothing)."""
