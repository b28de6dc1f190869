"""The example plugin's own tests run inside test_example_plugin.py, against the installed
plugin (as its author would run them), never as part of this suite's collection."""

collect_ignore = ["leadbridge-example"]
