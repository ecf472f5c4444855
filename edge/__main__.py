"""``python -m edge`` is the ``traycheck`` command."""
from edge.cli.main import main

main()
