"""The griddispatch operator tool: the `griddispatch` command and the local infrastructure it runs."""

__version__ = "0.1.0"
