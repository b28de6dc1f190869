"""The lead_docket connector (not yet built; registers nothing)."""
