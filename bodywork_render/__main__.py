"""``python -m bodywork_render`` runs the CLI."""

from bodywork_render.cli.main import main

main()
