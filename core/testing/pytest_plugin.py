"""pytest plugin (entry point ``pytest11``) exposing leadbridge's fixtures to connector authors."""
