"""``python -m bodywork_render`` runs the CLI."""

from .cli import main

main()
