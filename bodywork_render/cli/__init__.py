"""The `bodywork` command line: one thin module per command over the core."""
