"""Scale for Python: a cluster job scheduler behind the Scale v6 REST API."""

__version__ = "0.1.0"
