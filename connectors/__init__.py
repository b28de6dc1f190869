"""Built-in connectors. Each module is a plugin named in our own ``leadbridge`` entry-point
group, loaded exactly like a third-party connector."""
