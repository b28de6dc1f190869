"""The zoho connector (not yet built; registers nothing)."""
