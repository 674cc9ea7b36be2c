"""The ``tensornode`` command: one module per command group."""
