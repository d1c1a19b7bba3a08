"""Templating: the Jinja environment of every template, its quoting filters, and its disk cache of compiled templates.

Every user value reaches a template through the ``q`` filter (a JSON scalar or flow
collection, which YAML 1.1 and 1.2 readers both read back unchanged) or the ``block``
filter (block YAML whose keys and scalars are JSON-quoted).

Compiled templates are cached in the private cache folder ``jinja`` (bodywork_render/cache.py),
so a render does not compile every template again. Jinja keys each entry by the template's
name and file and checks it against a digest of the source, so an edited template (shipped
or a user's --templates) is compiled afresh.

jinja2 is imported inside functions, so importing the filters stays cheap.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bodywork_render.cache import cache_folder
from bodywork_render.diagnostics import BodyworkError
from bodywork_render.package_data import resource_dir

if TYPE_CHECKING:
    import jinja2

    from bodywork_render.render.plan import PlannedObject

TEMPLATE_CACHE = "jinja"
"""The cache folder of compiled templates (see bodywork_render/cache.py)."""
JOB_TEMPLATES = ("job.yaml.j2", "_pod.yaml.j2")
"""The templates a Job is made from: their digest is part of its name (see plan.py)."""
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_encode_string = json.encoder.encode_basestring


def quote(value: Any) -> str:
    """A value as a JSON-like double-quoted YAML scalar: strings always quoted, so `no`, `0644` or `1e3` stay strings
    in YAML 1.1, and every character outside printable ASCII escaped. A character beyond U+FFFF is escaped as
    ``\\UXXXXXXXX``, not as JSON's surrogate pair, which YAML readers (libyaml, go-yaml) refuse."""
    # What json.dumps(value, ensure_ascii=False) gives, without building an encoder per call (a large render quotes
    # some 200,000 values).
    text = _encode_string(value) if type(value) is str else _ENCODER.encode(value)
    if text.isascii() and text.isprintable():
        return text
    return "".join(
        c if " " <= c <= "~" else f"\\U{ord(c):08x}" if ord(c) > 0xFFFF else f"\\u{ord(c):04x}" for c in text
    )


def block(value: Any, indent: int) -> str:
    """A value as block YAML at ``indent`` spaces, every key and scalar JSON-quoted; starts with ' ' or a newline.

    Used as ``key:{{ value | block(2) }}`` so collections diff line by line in review.
    """
    pad = " " * indent
    if isinstance(value, dict) and value:
        return "".join(f"\n{pad}{quote(k)}:{block(v, indent + 2)}" for k, v in value.items())
    if isinstance(value, list) and value:
        items = []
        for item in value:
            text = block(item, indent + 2)
            items.append(f"\n{pad}- {text.lstrip()}" if isinstance(item, (dict, list)) and item else f"\n{pad}-{text}")
        return "".join(items)
    return f" {quote(value)}"


def jinja_environment(folders: list[Path], **syntax: Any) -> jinja2.Environment:
    """A Jinja environment with the options every template of the project needs, in one place.

    The first folder holding a template name wins (a user's override before the shipped
    ones); compiled templates are cached on disk (``bytecode_cache``); a missing variable is
    an error, nothing is HTML-escaped, trailing newlines stay, and the ``q`` filter
    JSON-quotes values. ``syntax`` sets delimiters and whitespace control.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
        bytecode_cache=bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        **syntax,
    )
    env.filters["q"] = quote
    return env


class Templates:
    """The Jinja environment of the Kubernetes templates: the shipped ones, overridden file by file by a user's."""

    def __init__(self, override: Path | None = None) -> None:
        if override is not None and not override.is_dir():
            raise BodyworkError(f"--templates {str(override)!r}: no such folder")
        folders = [override] if override is not None else []
        self.env = jinja_environment([*folders, resource_dir("templates")])
        self.env.filters["block"] = block

    def digest(self, names: tuple[str, ...]) -> str:
        """A digest of the templates' source text, so a changed template changes what it names."""
        h = hashlib.sha256()
        for name in names:
            source, _, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
            h.update(source.encode())
        return h.hexdigest()[:16]

    def render(self, planned: PlannedObject) -> str:
        """One planned object as YAML text."""
        import jinja2

        try:
            return self.env.get_template(planned.template).render(**planned.values)
        except jinja2.TemplateError as exc:
            raise BodyworkError(f"template {planned.template}: {exc}") from None


def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's file cache in ``cache_folder()``, with a failed write ignored; None to compile in memory."""
    import jinja2

    class QuietCache(jinja2.FileSystemBytecodeCache):
        # A full disk or a folder made read-only after start-up must not fail a render.
        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                super().dump_bytecode(bucket)
            except OSError:
                pass

    folder = cache_folder(TEMPLATE_CACHE)
    return QuietCache(str(folder)) if folder is not None else None
