"""Foundation tests: the package, the plugin framework, the connector contract, the
connectors CLI and leadbridge.testing itself."""
