"""The Kubernetes schemas: rendered objects validated against them before anything is written.

Every object is validated strictly (an unknown field is an error) against the
official schemas of one Kubernetes release, and every problem of every object is
reported at once.

Two backends give the same kind of answer:

- ``kubeconform -strict`` when it is on PATH, fed the built-in objects on stdin;
- otherwise, offline, the strict schemas that the ``kubernetes-validate``
  package ships, read from our extract of them (``schemas/k8s/``) for the kinds
  we render, by the Rust validator ``jsonschema_rs``, compiled once per
  (release, apiVersion, kind).

The custom resources that bodywork-render emits (Flux ``Kustomization`` and
``GitRepository``, Argo CD ``Application``, Gateway API ``HTTPRoute``) are checked
offline in both cases, against their upstream CRDs' own schemas (``crds.py``).

Heavy imports happen inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bodywork_render.verify.crds import VENDORED, crd_schema, schema_id

if TYPE_CHECKING:
    import jsonschema_rs

DEFAULT_K8S_VERSION = "1.37"
"""The Kubernetes release checked against unless told otherwise (major.minor)."""

_DEFS_URI = "https://kubernetes.io/api/_definitions.json"
_STRICT_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local-strict$")
_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")
_JSON_TYPES = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (tuple, "array"),
    (Mapping, "object"),
)
_ONE_OF_NAMES = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "a quantity (string or number)",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "an integer or a string",
}


class ObjectProblem(NamedTuple):
    """One problem found in one rendered object.

    ``path`` is the dotted field path inside the object, with list indexes in
    brackets (``spec.template.spec.containers[0].image``); it is empty when the
    problem concerns the object as a whole.
    """

    kind: str
    name: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.kind}/{self.name}: {where}{self.message}"


def dotted_path(path: Sequence[str | int]) -> str:
    """A field path as ``ObjectProblem.path`` shows it: ``("spec", "containers", 0, "image")`` as
    ``spec.containers[0].image``, with keys that are not plain names quoted (``labels["app.kubernetes.io/name"]``)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def supported_k8s_versions() -> list[str]:
    """The Kubernetes releases (``major.minor``) whose schemas are available offline, oldest first."""
    return [f"{major}.{minor}" for major, minor in sorted(_schema_dirs())]


def schema_problems(objects: Sequence[Any], k8s_version: str = DEFAULT_K8S_VERSION) -> list[ObjectProblem]:
    """Validate every object strictly against the schemas of ``k8s_version``; return every problem, in object order.

    ``k8s_version`` is ``major.minor`` or ``major.minor.patch``, with or without
    a leading ``v``. The custom resources we emit are checked against their
    upstream CRDs (``crds.py``) whichever backend runs. Raises ``ValueError`` for a
    release without offline schemas, and ``RuntimeError`` when kubeconform is
    on PATH but gives no readable answer.
    """
    import shutil

    from bodywork_render.verify.verified import Verified

    release = major_minor(k8s_version)
    if not objects:  # the release check alone (option_problems): no cache or backend to look up
        return []
    kubeconform = shutil.which("kubeconform")
    verified = Verified(f"kubernetes {release} {kubeconform or 'offline'}")
    pending = [i for i, obj in enumerate(objects) if not verified.known(obj)]
    if kubeconform is None:
        found = _offline_problems(objects, release, pending)
    else:
        # Our custom resources, and objects without an apiVersion and kind, never reach kubeconform.
        kinds = {i: _gvk(objects[i]) for i in pending}
        offline = [i for i, gvk in kinds.items() if gvk is None or gvk in VENDORED]
        builtin = [i for i, gvk in kinds.items() if gvk is not None and gvk not in VENDORED]
        found = _offline_problems(objects, release, offline)
        found += _kubeconform_problems(kubeconform, objects, release, builtin)
    invalid = {index for index, _ in found}
    for index in pending:
        if index not in invalid:
            verified.record(objects[index])
    return [problem for _, problem in sorted(found, key=lambda item: item[0])]


# -- versions and schema files ------------------------------------------------


@lru_cache(maxsize=1)
def _schema_dirs() -> dict[tuple[int, int], Path]:
    """The strict schema folders that kubernetes-validate ships, by (major, minor), found without importing it."""
    from importlib.util import find_spec

    spec = find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return {}
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    dirs: dict[tuple[int, int], Path] = {}
    for entry in root.iterdir() if root.is_dir() else ():
        match = _STRICT_DIR.match(entry.name)
        if match:
            dirs[(int(match.group(1)), int(match.group(2)))] = entry
    return dirs


def major_minor(k8s_version: str) -> tuple[int, int]:
    """The release (major, minor) of a ``--k8s-version``; ValueError for one without offline schemas."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", k8s_version.strip())
    key = (int(match.group(1)), int(match.group(2))) if match else None
    if key is None or key not in _schema_dirs():
        supported = ", ".join(supported_k8s_versions()) or "none (is kubernetes-validate installed?)"
        raise ValueError(f"no schemas for Kubernetes {k8s_version!r}; supported releases: {supported}")
    return key


def _gvk(obj: Any) -> tuple[str, str] | None:
    if not isinstance(obj, Mapping):
        return None
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if isinstance(api_version, str) and isinstance(kind, str):
        return (api_version, kind)
    return None


class _Definitions:
    """One release's definitions (kubernetes-validate's whole file, or our extract of it), and the CRDs' schemas.

    ``refs`` gives the schema of each apiVersion and kind they serve; the jsonschema_rs registry, the validators and
    a CRD's strict schema are made when an object first needs them.
    """

    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document
        self._validators: dict[tuple[str, str], jsonschema_rs.Validator] = {}
        self.refs: dict[tuple[str, str], str] = {gvk: schema_id(gvk) for gvk in VENDORED}
        for name, definition in document["$defs"].items():
            for gvk in definition.get("x-kubernetes-group-version-kind", ()):
                group, version = gvk["group"], gvk["version"]
                self.refs[(f"{group}/{version}" if group else version, gvk["kind"])] = f"{_DEFS_URI}#/$defs/{name}"

    def validator(self, gvk: tuple[str, str]) -> jsonschema_rs.Validator:
        """The jsonschema_rs validator of one apiVersion and kind, compiled on first use."""
        validator = self._validators.get(gvk)
        if validator is None:
            import jsonschema_rs

            schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": self.refs[gvk]}
            registry = self._registry
            if gvk in VENDORED:  # read and made strict only when an object of that kind is checked
                crd = crd_schema(gvk, _DEFS_URI)
                registry = jsonschema_rs.Registry([(_DEFS_URI, self._document), (crd["$id"], crd)])
            validator = jsonschema_rs.validator_for(schema, registry=registry, offline=True)
            self._validators[gvk] = validator
        return validator

    @cached_property
    def _registry(self) -> jsonschema_rs.Registry:
        import jsonschema_rs

        return jsonschema_rs.Registry([(_DEFS_URI, self._document)])


class _Schemas:
    """The schemas of one Kubernetes release: our extract of its definitions, else kubernetes-validate's whole file.

    The extract (see ``_shipped_extract``) serves the kinds we render; any other kind reads
    the package's ``_definitions.json``, fifteen times larger, only then.
    """

    def __init__(self, major_minor: tuple[int, int]) -> None:
        self.release = "{}.{}".format(*major_minor)
        self._package_file = _schema_dirs()[major_minor] / "_definitions.json"

    @cached_property
    def _extract(self) -> _Definitions | None:
        return _shipped_extract(self.release, self._package_file)

    @cached_property
    def _package(self) -> _Definitions:
        return _Definitions(json.loads(self._package_file.read_text(encoding="utf-8")))

    def definitions(self, gvk: tuple[str, str]) -> _Definitions | None:
        """The definitions that serve one apiVersion and kind, or None when this release does not serve it."""
        if self._extract is not None and gvk in self._extract.refs:
            return self._extract
        return self._package if gvk in self._package.refs else None

    def unknown(self, gvk: tuple[str, str]) -> tuple[str, str]:
        """The field and message for an apiVersion and kind that this release does not serve."""
        api_version, kind = gvk
        served = sorted(a for a, k in self._package.refs if k == kind)
        if served:
            return "apiVersion", (
                f"{kind} is not served as {api_version} in Kubernetes {self.release} (known: {', '.join(served)})"
            )
        return "kind", f"unknown kind {kind!r} ({api_version}) in Kubernetes {self.release}"


def _shipped_extract(release: str, package_file: Path) -> _Definitions | None:
    """Our extract of a release's definitions, from ``schemas/k8s/v<release>.json``, if we ship one.

    It holds the definitions that the built-in kinds of our templates and our CRD
    schemas reach, as kubernetes-validate's ``package_file`` has them but without
    descriptions (which never change a verdict), and the size of the file it was made
    from: when the installed file differs, a kubernetes-validate release changed it,
    and the extract is not used. tests/test_check.py makes it again and compares.
    """
    from bodywork_render.package_data import resource_dir

    path = resource_dir("schemas") / "k8s" / f"v{release}.json"
    if not path.is_file():
        return None
    extract = json.loads(path.read_text(encoding="utf-8"))
    if extract["source"]["size"] != package_file.stat().st_size:
        return None
    return _Definitions(extract["definitions"])


@cache
def _schemas(major_minor: tuple[int, int]) -> _Schemas:
    return _Schemas(major_minor)


# -- the offline backend ------------------------------------------------------


def _offline_problems(
    objects: Sequence[Any], major_minor: tuple[int, int], indexes: Sequence[int]
) -> list[tuple[int, ObjectProblem]]:
    found: list[tuple[int, ObjectProblem]] = []
    if not indexes:
        return found
    schemas = _schemas(major_minor)
    for index in indexes:
        found.extend((index, problem) for problem in _object_problems(objects[index], schemas))
    return found


def _object_problems(obj: Any, schemas: _Schemas) -> list[ObjectProblem]:
    kind, name = _identity(obj)
    if not isinstance(obj, Mapping):
        return [ObjectProblem(kind, name, "", f"expected an object, got {_json_type(obj)}")]
    gvk = _gvk(obj)
    if gvk is None:
        field = "apiVersion" if not isinstance(obj.get("apiVersion"), str) else "kind"
        return [ObjectProblem(kind, name, field, "required string field is missing")]
    definitions = schemas.definitions(gvk)
    if definitions is None:
        field, message = schemas.unknown(gvk)
        return [ObjectProblem(kind, name, field, message)]
    validator = definitions.validator(gvk)
    problems: list[ObjectProblem] = []
    try:
        valid = validator.is_valid(obj)
    except ValueError:  # a value jsonschema_rs cannot take (a YAML loader's int subclass, a date, an int key)
        obj, problems = _plain_json(obj, kind, name)
        valid = validator.is_valid(obj)
    if not valid:
        for error in validator.iter_errors(obj):
            if error.kind.name == "additionalProperties":
                problems.extend(_unknown_fields(error, kind, name))
            else:
                problems.append(_problem(error, kind, name))
    return sorted(problems, key=lambda problem: (problem.path, problem.message))


def _identity(obj: Any) -> tuple[str, str]:
    """The kind and name to report an object by, whatever its shape."""
    if not isinstance(obj, Mapping):
        return "?", "?"
    kind = obj.get("kind")
    metadata = obj.get("metadata")
    name = None
    if isinstance(metadata, Mapping):
        name = metadata.get("name") or metadata.get("generateName")
    return (kind if isinstance(kind, str) and kind else "?", name if isinstance(name, str) and name else "?")


def _plain_json(value: Any, kind: str, name: str) -> tuple[Any, list[ObjectProblem]]:
    """A copy of ``value`` made of plain JSON types, and a problem for every value that has no JSON form."""
    problems: list[ObjectProblem] = []

    def plain(node: Any, path: tuple[str | int, ...]) -> Any:
        if node is None or isinstance(node, bool):
            return node
        if isinstance(node, str):
            return str(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, Mapping):
            copy = {}
            for key, item in node.items():
                if not isinstance(key, str):
                    problems.append(ObjectProblem(kind, name, dotted_path(path), f"key {key!r} is not a string"))
                    continue
                copy[str(key)] = plain(item, (*path, key))
            return copy
        if isinstance(node, (list, tuple)):
            return [plain(item, (*path, i)) for i, item in enumerate(node)]
        problems.append(
            ObjectProblem(kind, name, dotted_path(path), f"a {type(node).__name__} has no JSON form; quote it")
        )
        return None

    return plain(value, ()), problems


def _problem(error: Any, kind: str, name: str) -> ObjectProblem:
    """One jsonschema_rs error as a problem whose path points at the faulty field."""
    path = tuple(error.instance_path)
    keyword = error.kind.name
    details = error.kind.as_dict() if keyword in ("required", "type", "pattern", "enum") else {}
    if keyword == "required":
        return ObjectProblem(kind, name, dotted_path((*path, details["property"])), "required field is missing")
    if keyword == "type":
        expected = " or ".join(t for t in details["types"] if t != "null") or "null"
        return ObjectProblem(kind, name, dotted_path(path), f"expected {expected}, got {_shown(error.instance)}")
    if keyword == "enum":
        options = ", ".join(json.dumps(option) for option in details["options"])
        return ObjectProblem(kind, name, dotted_path(path), f"expected one of {options}, got {_shown(error.instance)}")
    if keyword == "pattern":
        return ObjectProblem(
            kind,
            name,
            dotted_path(path),
            f"expected a string matching {details['pattern']}, got {_shown(error.instance)}",
        )
    if keyword.startswith("oneOf") and len(error.schema_path) >= 2 and error.schema_path[-2] in _ONE_OF_NAMES:
        expected = _ONE_OF_NAMES[error.schema_path[-2]]
        return ObjectProblem(kind, name, dotted_path(path), f"expected {expected}, got {_shown(error.instance)}")
    return ObjectProblem(kind, name, dotted_path(path), error.message)


def _unknown_fields(error: Any, kind: str, name: str) -> list[ObjectProblem]:
    path = tuple(error.instance_path)
    return [ObjectProblem(kind, name, dotted_path((*path, field)), "unknown field") for field in error.kind.unexpected]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return next((name for cls, name in _JSON_TYPES if isinstance(value, cls)), type(value).__name__)


def _shown(value: Any) -> str:
    """A value's JSON type, and the value itself when it is a short scalar."""
    kind = _json_type(value)
    if isinstance(value, (Mapping, list, tuple)) or value is None:
        return kind
    text = json.dumps(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


# -- the kubeconform backend --------------------------------------------------


def _kubeconform_problems(
    executable: str, objects: Sequence[Any], major_minor: tuple[int, int], indexes: Sequence[int]
) -> list[tuple[int, ObjectProblem]]:
    """Validate the objects at ``indexes`` (each with a string apiVersion and kind) with ``kubeconform -strict``."""
    import subprocess

    if not indexes:
        return []
    found: list[tuple[int, ObjectProblem]] = []
    documents = []
    by_signature: dict[tuple[str, str, str], list[int]] = {}
    for index in indexes:
        kind, name = _identity(objects[index])
        plain, problems = _plain_json(objects[index], kind, name)
        found.extend((index, problem) for problem in problems)
        documents.append(json.dumps(plain, sort_keys=True))
        by_signature.setdefault((kind, name, plain["apiVersion"]), []).append(index)
    command = [
        executable,
        "-strict",
        "-summary",
        "-output",
        "json",
        "-kubernetes-version",
        "{}.{}.0".format(*major_minor),
    ]
    completed = subprocess.run(
        command, input="\n---\n".join(documents) + "\n", capture_output=True, text=True, check=False
    )
    try:
        report = json.loads(completed.stdout)
        results = report["resources"]
    except (ValueError, KeyError, TypeError):
        detail = (completed.stderr or completed.stdout).strip()[:500]
        raise RuntimeError(f"kubeconform gave no JSON report (exit {completed.returncode}): {detail}") from None
    for result in results:
        if result.get("status") not in ("statusInvalid", "statusError"):
            continue
        kind, name = result.get("kind") or "?", result.get("name") or "?"
        candidates = by_signature.get((kind, name, result.get("version") or ""), [])
        index = candidates[0] if candidates else indexes[0]
        obj = objects[index]
        errors = result.get("validationErrors") or []
        if not errors:
            found.append((index, ObjectProblem(kind, name, "", result.get("msg") or result["status"])))
        for error in errors:
            path = dotted_path(_pointer_path(obj, error.get("path", "")))
            found.append((index, ObjectProblem(kind, name, path, error.get("msg", ""))))
    return found


def _pointer_path(obj: Any, pointer: str) -> tuple[str | int, ...]:
    """A JSON pointer as path parts, with list indexes as ints where the object has a list."""
    parts: list[str | int] = []
    node = obj
    for raw in pointer.split("/")[1:] if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit():
            parts.append(int(token))
            node = node[int(token)] if int(token) < len(node) else None
        else:
            parts.append(token)
            node = node.get(token) if isinstance(node, Mapping) else None
    return tuple(parts)
