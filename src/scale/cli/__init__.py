"""The ``scale`` command line."""
