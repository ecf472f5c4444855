"""``python -m edge`` is the ``traycheck`` command."""
from edge.cli import main

main()
