"""The ``traycheck`` command line: one module per command group."""
