"""The command groups of refuge, one module each."""
