"""`bodywork schema`: print the JSON Schema of bodywork.yaml."""

from __future__ import annotations

import sys

from bodywork_render.cli.params import Command, Values


def schema(values: Values) -> int:
    """Print the JSON Schema of bodywork.yaml (for editors: yaml-language-server, VS Code)."""
    from bodywork_render.package_data import schema_text

    sys.stdout.write(schema_text())
    return 0


COMMAND = Command("schema", schema, ())
