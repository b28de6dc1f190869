"""The followupboss connector (not yet built; registers nothing)."""
