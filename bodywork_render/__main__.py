"""``python -m bodywork_render`` runs the CLI."""

from .entry import main

main()
