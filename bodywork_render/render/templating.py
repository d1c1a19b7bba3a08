"""Templating: the Jinja environment of every template, its quoting filters, and its disk cache of compiled templates.

Every user value reaches a template through the ``q`` filter (a JSON scalar or flow
collection, which YAML 1.1 and 1.2 readers both read back unchanged) or the ``block``
filter (block YAML whose keys and scalars are JSON-quoted).

Compiled templates are cached in the private cache folder ``jinja`` (bodywork_render/cache.py),
so a render does not compile every template again. Jinja keys each entry by the template's
name and file and checks it against a digest of the source, so an edited template (shipped
or a user's --templates) is compiled afresh. The texts rendered are cached too, in the
folder ``rendered`` (``RenderedTexts``), so an unchanged object is neither rendered nor needs jinja2.

jinja2 is imported inside functions, so importing the filters stays cheap.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
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
RENDERED_CACHE = "rendered"
"""The cache folder of rendered texts (see ``RenderedTexts``)."""
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


def from_yaml(text: str) -> Any:
    """YAML text that a template rendered (its values quoted by ``q`` and ``block``) read back as data, so another
    template can place its parts, quoted again by ``block`` (argo/workflowtemplate.yaml.j2 and _pod.yaml.j2)."""
    import yaml

    return yaml.load(str(text), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


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


def render_template(env: jinja2.Environment, name: str, values: dict[str, Any], what: str) -> str:
    """The template ``name`` rendered with ``values``; BodyworkError naming ``what`` and the template's file and line
    when it cannot be compiled, uses an undefined value, or raises while it runs (``{{ 1/0 }}``). An exception of
    another kind raised by a shipped template is a bug, not the user's: it propagates."""
    import jinja2

    try:
        return env.get_template(name).render(**values)
    except jinja2.TemplateSyntaxError as exc:
        raise BodyworkError(f"{what} {exc.filename or name}, line {exc.lineno}: {exc.message}") from None
    except Exception as exc:
        import traceback

        # Jinja rewrites the traceback so that a template's frames carry its file and line: the last is where it failed.
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
        if isinstance(exc, jinja2.TemplateError):
            message = str(exc)
        elif frames and not Path(frames[-1].filename).resolve().is_relative_to(resource_dir("templates").resolve()):
            message = f"{type(exc).__name__}: {exc}"
        else:
            raise
        where = f"{frames[-1].filename}, line {frames[-1].lineno}" if frames else name
        raise BodyworkError(f"{what} {where}: {message}") from None


class Templates:
    """The Jinja environment of the Kubernetes templates: the shipped ones, overridden file by file by a user's.

    The environment (and jinja2 with it) is made on first use: a render whose every object is in the cache of
    rendered texts (``RenderedTexts``) never imports jinja2.
    """

    def __init__(self, override: Path | None = None) -> None:
        if override is not None and not override.is_dir():
            raise BodyworkError(f"--templates {str(override)!r}: no such folder")
        self.folders = [*([override] if override is not None else []), resource_dir("templates")]
        self._env: jinja2.Environment | None = None
        self._texts: RenderedTexts | None | bool = False  # False: not looked for yet

    @property
    def env(self) -> jinja2.Environment:
        """The Jinja environment of these templates."""
        if self._env is None:
            self._env = jinja_environment(self.folders)
            self._env.filters["block"] = block
            self._env.filters["from_yaml"] = from_yaml
        return self._env

    def source(self, name: str) -> str:
        """The source text of a template, as Jinja's loader reads it: from the first folder holding it."""
        if all(part not in ("", ".", "..") for part in name.split("/")):
            for folder in self.folders:
                path = folder / name
                if path.is_file():
                    return path.read_text(encoding="utf-8")
        source, _, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
        return source

    def digest(self, names: tuple[str, ...]) -> str:
        """A digest of the templates' source text, so a changed template changes what it names."""
        h = hashlib.sha256()
        for name in names:
            h.update(self.source(name).encode())
        return h.hexdigest()[:16]

    def render(self, planned: PlannedObject) -> str:
        """One planned object as YAML text."""
        if self._texts is False:
            self._texts = RenderedTexts.of(self.folders)
        texts = self._texts if isinstance(self._texts, RenderedTexts) else None
        key = texts.key(planned.template, planned.values) if texts is not None else None
        if texts is not None and key is not None:
            text = texts.get(key)
            if text is not None:
                return text
        text = render_template(self.env, planned.template, planned.values, "template")
        if texts is not None and key is not None:
            texts.put(key, text)
        return text


class RenderedTexts:
    """The texts rendered before from these templates, in the private cache folder ``rendered``.

    pre-commit runs `bodywork render --check` on every commit, and most commits render the very
    objects of the last run: importing jinja2 alone was a quarter of that run. An entry is a
    template's output, named by the SHA-256 of the template's name and its values (plain JSON
    data only: a value of another type is rendered every time), in a folder named after
    everything else the text depends on: this tool's version, its filters (this file), the
    installed jinja2, and the name and content of every file of every template folder (a template
    can include any other). A text from the cache is parsed back and verified as a fresh one is.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def of(cls, template_folders: list[Path]) -> RenderedTexts | None:
        """The cache of these template folders; None when caching is off or the folder unusable."""
        import importlib.util

        from bodywork_render import __version__

        base = cache_folder(RENDERED_CACHE)
        if base is None:
            return None
        h = hashlib.sha256(__version__.encode())
        spec = importlib.util.find_spec("jinja2")
        for code in (__file__, spec.origin if spec is not None else None):
            info = os.stat(code) if code is not None else None
            h.update(f"\0{code}:{info.st_size}:{info.st_mtime_ns}".encode() if info is not None else b"\0-")
        try:
            for index, folder in enumerate(template_folders):
                for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                    h.update(f"\0{index}:{path.relative_to(folder).as_posix()}\0".encode())
                    h.update(path.read_bytes())
            folder = base / h.hexdigest()[:32]
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            return None
        return cls(folder)

    def key(self, template: str, values: dict[str, Any]) -> str | None:
        """The entry of ``template`` filled with ``values``; None when a value is not plain JSON data."""
        if not _plain_json(values):
            return None
        text = json.dumps([template, values], ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: str) -> str | None:
        """The text of an entry; None when there is none (or it cannot be read)."""
        try:
            return (self.folder / key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def put(self, key: str, text: str) -> None:
        """Record an entry, whole or not at all; a cache that cannot be written is ignored."""
        try:
            descriptor, temporary = tempfile.mkstemp(prefix=".new-", dir=self.folder)
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
            os.replace(temporary, self.folder / key)
        except OSError:
            pass


def _plain_json(value: Any) -> bool:
    """Whether ``value`` is JSON data that JSON gives back with the same types: str keys, lists (not tuples), finite
    floats; the types that Jinja could render differently for the same JSON text are refused."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    if kind is list:
        return all(_plain_json(v) for v in value)
    if kind is float:
        return math.isfinite(value)
    return kind in (str, int, bool) or value is None


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
