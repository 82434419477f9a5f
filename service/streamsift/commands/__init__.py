"""Subcommands of the ``streamsift`` CLI, one module each, each exposing ``register``."""
