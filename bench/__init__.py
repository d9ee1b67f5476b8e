"""gan-bench: a framework-neutral harness. Importing it loads neither torch nor tensorflow."""

__version__ = "0.1.0"
