"""Seed 1.0.0 job manifests: checking, a parsed frozen form, job input checks and job environment.

Checking is written out by hand rather than with a JSON schema library because the domain package
uses only the standard library, and because every problem must name its field path
(``manifest.job.errors[1].category``) so the REST API can report all of them at once.

Environment names follow the Seed "Normalization" rule (upper case, dashes become underscores),
and ``${NAME}`` / ``$NAME`` / ``${NAME/#/PREFIX}`` placeholders follow Bash, as Seed requires.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from scale.domain.resources import Resources
from scale.domain.states import ErrorCategory
from scale.exceptions import FieldProblem, InvalidRequest

SEED_VERSION = "1.0.0"
MIN_CPUS = 0.25
MIN_MEM = 128.0
MIN_DISK = 0.0
MAX_TIMEOUT = 2**31 - 1  # the timeout column is a 32-bit integer
MAX_JOB_NAME = 128
MAX_ERROR_NAME = 50
MAX_VERSION = 256  # keeps the semver match cheap on hostile input
JSON_TYPES = ("array", "boolean", "integer", "number", "object", "string")
#: Set by the executor for every job, so no input or setting may normalize to them.
RESERVED_ENV = frozenset({"OUTPUT_DIR", *(f"ALLOCATED_{n}" for n in ("CPUS", "MEM", "DISK", "GPUS"))})

DEFAULT_RESOURCES = Resources(MIN_CPUS, MIN_MEM, MIN_DISK, 0.0)

_JOB_NAME = re.compile(r"[a-zA-Z0-9-]+")
_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?"
    r"(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?"
)
_ITEM_NAME = re.compile(r"[a-zA-Z0-9_-]+")
# Inputs and settings become environment variables, so they must not start with a digit.
_ENV_ITEM_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_-]*")
_CATEGORIES = {"job": ErrorCategory.ALGORITHM, "data": ErrorCategory.DATA}
_FIELD_NAMES = {"mediaTypes": "media_types", "mediaType": "media_type"}  # Seed member -> our field
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class ManifestError(InvalidRequest, ValueError):
    """A manifest (or job input) that breaks the standard; ``errors`` holds every problem found.

    Part of the one exception tree (an ``InvalidRequest``, so 400 wherever it reaches the API)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__([FieldProblem(e.field, e.message) for e in self.errors])


@dataclass(frozen=True, slots=True)
class JsonInput:
    name: str
    type: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class FileInput:
    name: str
    required: bool = True
    multiple: bool = False
    partial: bool = False
    media_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JsonOutput:
    name: str
    type: str
    required: bool = True
    key: str = ""  # the seed.outputs.json member; the name when the manifest gives none


@dataclass(frozen=True, slots=True)
class FileOutput:
    name: str
    pattern: str
    required: bool = True
    multiple: bool = False
    media_type: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorMapping:
    code: int
    name: str
    title: str | None
    description: str | None
    category: ErrorCategory


@dataclass(frozen=True, slots=True)
class SeedManifest:
    name: str
    job_version: str
    package_version: str
    title: str
    description: str
    timeout: int
    maintainer_name: str
    maintainer_email: str
    command: str = ""
    tags: tuple[str, ...] = ()
    json_inputs: tuple[JsonInput, ...] = ()
    file_inputs: tuple[FileInput, ...] = ()
    json_outputs: tuple[JsonOutput, ...] = ()
    file_outputs: tuple[FileOutput, ...] = ()
    resources: Resources = DEFAULT_RESOURCES
    errors: tuple[ErrorMapping, ...] = ()
    #: The manifest as given (not copied); left out of equality and hashing since it is a dict.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def error_for_exit_code(self, code: int) -> ErrorMapping | None:
        return next((e for e in self.errors if e.code == code), None)


# --------------------------------------------------------------------------- checking helpers


def _join(root: str, key: str) -> str:
    return f"{root}.{key}" if root else key


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value: object) -> float | None:
    """The value as a float when it is a JSON number that a float can hold, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_int(value):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    return "array" if isinstance(value, list | tuple) else type(value).__name__


class _Checker:
    """Collects problems; each check returns the value when it is usable, so callers go on."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def obj(
        self, value: object, path: str, allowed: Sequence[str] | None = None
    ) -> Mapping[str, object] | None:
        """The value when it is an object; with ``allowed``, any other member is reported too."""
        if not isinstance(value, Mapping):
            self.add(path, f"must be an object, got {_json_type(value)}")
            return None
        for key in value:
            if allowed is not None and key not in allowed:
                self.add(_join(path, str(key)), "unknown field")
        return value

    def member(
        self, parent: Mapping[str, object], key: str, path: str, kind: str, *, required: bool = False
    ) -> object:
        """Check ``parent[key]`` against ``kind`` and return it, or None when missing or wrong."""
        if key not in parent:
            if required:
                self.add(_join(path, key), "is required")
            return None
        value = parent[key]
        message = _kind_problem(kind, value)
        if message:
            self.add(_join(path, key), message)
            return None
        return value

    def string(
        self, parent: Mapping[str, object], key: str, path: str, *, required: bool = False
    ) -> str | None:
        value = self.member(parent, key, path, "string", required=required)
        return value if isinstance(value, str) else None

    def array(self, parent: Mapping[str, object], key: str, path: str) -> Sequence[object]:
        value = self.member(parent, key, path, "array")
        return value if isinstance(value, list | tuple) else ()

    def named(self, value: str | None, path: str, pattern: re.Pattern[str], max_len: int = 0) -> str:
        """The name when it is usable; "" when it is missing (already reported) or bad."""
        if value is None:
            return ""
        if max_len and len(value) > max_len:
            self.add(path, f"must be at most {max_len} characters")
            return ""
        if not pattern.fullmatch(value):
            self.add(path, f"must match ^{pattern.pattern}$")
            return ""
        return value

    def unique(self, entries: Sequence[tuple[str, str]], what: str) -> None:
        seen: set[str] = set()
        for path, name in entries:
            if name in seen:
                self.add(path, f"duplicate {what}: {name}")
            seen.add(name)


def _kind_problem(kind: str, value: object) -> str:
    if kind == "string" and not isinstance(value, str):
        return f"must be a string, got {_json_type(value)}"
    if kind == "boolean" and not isinstance(value, bool):
        return f"must be a boolean, got {_json_type(value)}"
    if kind == "array" and not isinstance(value, list | tuple):
        return f"must be an array, got {_json_type(value)}"
    if kind == "strings" and not (isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)):
        return "must be an array of strings"
    if kind == "json-type" and value not in JSON_TYPES:
        return f"must be one of {', '.join(JSON_TYPES)}"
    if kind == "mode" and value not in ("ro", "rw"):
        return "must be 'ro' or 'rw'"
    if kind == "path" and not (isinstance(value, str) and value.startswith("/")):
        return "must be an absolute path"
    return ""


# Interface element members: name -> (kind, required). ``name`` itself is checked separately.
_INPUT_FILE = {"required": ("boolean", False), "mediaTypes": ("strings", False)}
_INPUT_FILE |= {"multiple": ("boolean", False), "partial": ("boolean", False)}
_INPUT_JSON = {"type": ("json-type", True), "required": ("boolean", False)}
_OUTPUT_FILE = {"mediaType": ("string", False), "pattern": ("string", True)}
_OUTPUT_FILE |= {"multiple": ("boolean", False), "required": ("boolean", False)}
_OUTPUT_JSON = {"key": ("string", False), "type": ("json-type", True), "required": ("boolean", False)}
_MOUNT = {"path": ("path", True), "mode": ("mode", False)}
_SETTING = {"secret": ("boolean", False)}


def _check_elements(
    c: _Checker,
    parent: Mapping[str, object],
    key: str,
    path: str,
    members: Mapping[str, tuple[str, bool]],
    pattern: re.Pattern[str],
) -> list[tuple[str, str]]:
    """Check an array of interface elements; return (name path, name) for the usable names."""
    names: list[tuple[str, str]] = []
    for index, item in enumerate(c.array(parent, key, path)):
        item_path = f"{_join(path, key)}[{index}]"
        element = c.obj(item, item_path, ("name", *members))
        if element is None:
            continue
        name = c.named(c.string(element, "name", item_path, required=True), f"{item_path}.name", pattern)
        if name:
            names.append((f"{item_path}.name", name))
        for member, (kind, required) in members.items():
            c.member(element, member, item_path, kind, required=required)
    return names


def _check_interface(c: _Checker, job: Mapping[str, object], path: str) -> list[tuple[str, str, str]]:
    """Check ``interface``; return (path, name, group) for every name that becomes a variable."""
    allowed = ("command", "inputs", "outputs", "mounts", "settings")
    interface = c.obj(job["interface"], path, allowed) if "interface" in job else None
    if interface is None:
        return []
    c.string(interface, "command", path)
    env: list[tuple[str, str, str]] = []
    if "inputs" in interface and (inputs := c.obj(interface["inputs"], f"{path}.inputs", ("files", "json"))):
        files = _check_elements(c, inputs, "files", f"{path}.inputs", _INPUT_FILE, _ENV_ITEM_NAME)
        values = _check_elements(c, inputs, "json", f"{path}.inputs", _INPUT_JSON, _ENV_ITEM_NAME)
        c.unique(files, "input name")
        c.unique(values, "input name")
        env += [(p, n, "files") for p, n in files] + [(p, n, "json") for p, n in values]
    if "outputs" in interface and (
        outputs := c.obj(interface["outputs"], f"{path}.outputs", ("files", "json"))
    ):
        files = _check_elements(c, outputs, "files", f"{path}.outputs", _OUTPUT_FILE, _ITEM_NAME)
        values = _check_elements(c, outputs, "json", f"{path}.outputs", _OUTPUT_JSON, _ITEM_NAME)
        c.unique(files + values, "output name")
    c.unique(_check_elements(c, interface, "mounts", path, _MOUNT, _ITEM_NAME), "mount name")
    settings = _check_elements(c, interface, "settings", path, _SETTING, _ENV_ITEM_NAME)
    c.unique(settings, "setting name")
    return env + [(p, n, "settings") for p, n in settings]


def _check_resources(c: _Checker, job: Mapping[str, object], path: str) -> list[str]:
    """Check ``resources.scalar``; return the usable scalar names."""
    resources = c.obj(job["resources"], path, ("scalar",)) if "resources" in job else None
    if resources is None:
        return []
    if "scalar" not in resources:
        c.add(f"{path}.scalar", "is required")
    names: list[tuple[str, str]] = []
    for index, item in enumerate(c.array(resources, "scalar", path)):
        item_path = f"{path}.scalar[{index}]"
        scalar = c.obj(item, item_path, ("name", "value", "inputMultiplier"))
        if scalar is None:
            continue
        name = c.named(c.string(scalar, "name", item_path, required=True), f"{item_path}.name", _ITEM_NAME)
        if name:
            names.append((f"{item_path}.name", name))
        for key in ("value", "inputMultiplier"):
            if key not in scalar:
                if key == "value":
                    c.add(f"{item_path}.value", "is required")
                continue
            number = _finite(scalar[key])
            if number is None:
                kind = _json_type(scalar[key])
                c.add(
                    f"{item_path}.{key}",
                    "is out of range" if kind in ("integer", "number") else f"must be a number, got {kind}",
                )
            elif number < 0:
                c.add(f"{item_path}.{key}", "must be at least 0")
            elif key == "value" and name == "gpus" and not number.is_integer():
                c.add(f"{item_path}.value", "must be a whole number of gpus")
    c.unique(names, "resource")
    return [name for _, name in names]


def _check_errors(c: _Checker, job: Mapping[str, object], path: str) -> None:
    codes: list[tuple[str, str]] = []
    names: list[tuple[str, str]] = []
    for index, item in enumerate(c.array(job, "errors", path)):
        item_path = f"{path}.errors[{index}]"
        mapping = c.obj(item, item_path, ("code", "name", "title", "description", "category"))
        if mapping is None:
            continue
        if "code" not in mapping:
            c.add(f"{item_path}.code", "is required")
        elif not _is_int(mapping["code"]):
            c.add(f"{item_path}.code", f"must be an integer, got {_json_type(mapping['code'])}")
        else:
            codes.append((f"{item_path}.code", str(mapping["code"])))
        raw_name = c.string(mapping, "name", item_path, required=True)
        if name := c.named(raw_name, f"{item_path}.name", _ITEM_NAME, MAX_ERROR_NAME):
            names.append((f"{item_path}.name", name))
        c.string(mapping, "title", item_path)
        c.string(mapping, "description", item_path)
        if "category" in mapping and mapping["category"] not in _CATEGORIES:
            c.add(f"{item_path}.category", "must be 'job' or 'data'")
    c.unique(codes, "error code")
    c.unique(names, "error name")


def _check_env_names(c: _Checker, entries: Sequence[tuple[str, str, str]], scalars: Sequence[str]) -> None:
    """Seed forbids two inputs/settings, or one and a reserved variable, sharing a variable name."""
    reserved = RESERVED_ENV | {f"ALLOCATED_{normalize_env_name(s)}" for s in scalars}
    seen: dict[str, tuple[str, str, str]] = {}
    for path, name, group in entries:
        variable = normalize_env_name(name)
        if variable in reserved:
            c.add(path, f"environment variable {variable} is reserved")
        elif variable in seen and seen[variable][1:] != (name, group):  # same-list repeats are reported
            c.add(path, f"environment variable {variable} is also set by {seen[variable][0]}")
        seen.setdefault(variable, (path, name, group))


def _check_job(c: _Checker, job: Mapping[str, object], path: str) -> None:
    name = c.string(job, "name", path, required=True)
    c.named(name, f"{path}.name", _JOB_NAME, MAX_JOB_NAME)
    for key in ("jobVersion", "packageVersion"):
        version = c.string(job, key, path, required=True)
        if version is not None and (len(version) > MAX_VERSION or not _SEMVER.fullmatch(version)):
            c.add(f"{path}.{key}", "must be a semantic version such as 1.0.0")
    c.string(job, "title", path, required=True)
    c.string(job, "description", path, required=True)
    c.member(job, "tags", path, "strings")
    maintainer_keys = ("name", "email", "organization", "url", "phone")
    if "maintainer" not in job:
        c.add(f"{path}.maintainer", "is required")
    elif (maintainer := c.obj(job["maintainer"], f"{path}.maintainer", maintainer_keys)) is not None:
        for key in maintainer_keys:
            c.string(maintainer, key, f"{path}.maintainer", required=key in ("name", "email"))
    timeout = job.get("timeout")
    if "timeout" not in job:
        c.add(f"{path}.timeout", "is required")
    elif not isinstance(timeout, int) or isinstance(timeout, bool):
        c.add(f"{path}.timeout", f"must be an integer, got {_json_type(timeout)}")
    elif not 0 < timeout <= MAX_TIMEOUT:
        c.add(f"{path}.timeout", f"must be between 1 and {MAX_TIMEOUT} seconds")
    scalars = _check_resources(c, job, f"{path}.resources")
    _check_env_names(c, _check_interface(c, job, f"{path}.interface"), scalars)
    _check_errors(c, job, path)


# fmt: off
_JOB_KEYS = ("name", "jobVersion", "packageVersion", "title", "description", "tags", "maintainer",
             "timeout", "resources", "interface", "errors")
# fmt: on


def validate_manifest(manifest: object, *, root: str = "manifest") -> list[FieldError]:
    """Every way ``manifest`` breaks Seed 1.0.0 (or Scale's limits on it); never raises."""
    c = _Checker()
    top = c.obj(manifest, root, ("seedVersion", "job"))
    if top is None:
        return c.errors
    version = c.string(top, "seedVersion", root, required=True)
    if version is not None and version != SEED_VERSION:
        c.add(_join(root, "seedVersion"), f"must be {SEED_VERSION!r}")
    if "job" not in top:
        c.add(_join(root, "job"), "is required")
    elif (job := c.obj(top["job"], _join(root, "job"), _JOB_KEYS)) is not None:
        _check_job(c, job, _join(root, "job"))
    return c.errors


# --------------------------------------------------------------------------- parsing


def _items(parent: Any, key: str) -> list[Any]:
    return list(parent.get(key) or []) if isinstance(parent, Mapping) else []


def _build(cls: type[_T], item: Mapping[str, Any], **extra: Any) -> _T:
    """``cls`` from a checked element: unknown members were rejected, so each one names a field."""
    values = {_FIELD_NAMES.get(k, k): tuple(v) if isinstance(v, list) else v for k, v in item.items()}
    return cls(**(values | extra))


def _resources(job: Mapping[str, Any]) -> Resources:
    scalars = {str(s["name"]): float(s["value"]) for s in _items(job.get("resources"), "scalar")}
    return Resources(
        cpus=max(scalars.get("cpus", 0.0), MIN_CPUS),
        mem=max(scalars.get("mem", 0.0), MIN_MEM),
        disk=max(scalars.get("disk", 0.0), MIN_DISK),
        gpus=scalars.get("gpus", 0.0),
    )


def parse_manifest(manifest: object, *, root: str = "manifest") -> SeedManifest:
    """The frozen form of a valid manifest; ManifestError listing every problem otherwise."""
    errors = validate_manifest(manifest, root=root)
    if errors or not isinstance(manifest, Mapping):
        raise ManifestError(errors)
    job: Mapping[str, Any] = manifest["job"]
    interface: Mapping[str, Any] = job.get("interface") or {}
    inputs, outputs = interface.get("inputs"), interface.get("outputs")
    return SeedManifest(
        name=job["name"],
        job_version=job["jobVersion"],
        package_version=job["packageVersion"],
        title=job["title"],
        description=job["description"],
        timeout=job["timeout"],
        maintainer_name=job["maintainer"]["name"],
        maintainer_email=job["maintainer"]["email"],
        command=interface.get("command", ""),
        tags=tuple(job.get("tags") or ()),
        json_inputs=tuple(_build(JsonInput, i) for i in _items(inputs, "json")),
        file_inputs=tuple(_build(FileInput, i) for i in _items(inputs, "files")),
        json_outputs=tuple(
            _build(JsonOutput, o, key=o.get("key", o["name"])) for o in _items(outputs, "json")
        ),
        file_outputs=tuple(_build(FileOutput, o) for o in _items(outputs, "files")),
        resources=_resources(job),
        errors=tuple(
            _build(
                ErrorMapping,
                e,
                title=e.get("title"),
                description=e.get("description"),
                category=_CATEGORIES[e.get("category", "job")],
            )
            for e in _items(job, "errors")
        ),
        raw=manifest,
    )


# --------------------------------------------------------------------------- job input


def _check_json_input(c: _Checker, manifest: SeedManifest, values: Mapping[str, object], path: str) -> None:
    for item in manifest.json_inputs:
        value, item_path = values.get(item.name), _join(path, item.name)
        if item.name not in values:
            if item.required:
                c.add(item_path, "required input is missing")
        elif (_finite(value) is None) if item.type == "number" else _json_type(value) != item.type:
            c.add(item_path, f"must be of type {item.type}, got {_json_type(value)}")


def _check_file_input(c: _Checker, manifest: SeedManifest, values: Mapping[str, object], path: str) -> None:
    for item in manifest.file_inputs:
        value, item_path = values.get(item.name), _join(path, item.name)
        if item.name not in values:
            if item.required:
                c.add(item_path, "required input is missing")
        elif not isinstance(value, list | tuple) or not all(_is_int(v) and v > 0 for v in value):
            c.add(item_path, "must be an array of file ids (positive integers)")
        elif item.required and not value:
            c.add(item_path, "required input is missing")
        elif not item.multiple and len(value) > 1:
            c.add(item_path, "accepts one file only")


def validate_job_input(manifest: SeedManifest, data: object, *, root: str = "input") -> list[FieldError]:
    """Every way job input ``{"json": {...}, "files": {...}}`` fails ``manifest``; never raises.

    A string ``version`` member is also accepted, as Scale v6 clients send one with their data.
    """
    c = _Checker()
    top = c.obj(data, root, ("json", "files", "version"))
    if top is None:
        return c.errors
    c.string(top, "version", root)
    for key, declared, check in (
        ("json", [i.name for i in manifest.json_inputs], _check_json_input),
        ("files", [i.name for i in manifest.file_inputs], _check_file_input),
    ):
        values = c.obj(top.get(key, {}), _join(root, key))
        if values is not None:
            check(c, manifest, values, _join(root, key))
            for name in values:
                if name not in declared:
                    c.add(_join(root, f"{key}.{name}"), "the manifest declares no such input")
    return c.errors


# --------------------------------------------------------------------------- command and environment


def normalize_env_name(name: str) -> str:
    """Seed's normalization of a name into an environment variable: upper case, ``-`` as ``_``."""
    return name.replace("-", "_").upper()


def _encode(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def job_environment(manifest: SeedManifest, json_inputs: Mapping[str, object]) -> dict[str, str]:
    """Seed's variables for the declared JSON inputs present (and not null) in ``json_inputs``.

    Each is named by normalizing the input name; strings go as they are and every other value as
    compact JSON (booleans ``true``/``false``). Absent inputs stay unset, as Seed requires.
    """
    return {
        normalize_env_name(item.name): _encode(json_inputs[item.name])
        for item in manifest.json_inputs
        if json_inputs.get(item.name) is not None
    }


def command_values(manifest: SeedManifest, json_inputs: Mapping[str, object]) -> dict[str, str]:
    """The values ``render_command`` puts in place of placeholders.

    Seed expands the command from the job's environment, so these are the same names and values
    as ``job_environment``: a placeholder and the variable the job reads always agree.
    """
    return job_environment(manifest, json_inputs)


_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN_QUOTED = re.compile(rf'\\.|"|\$\$|\$\{{({_IDENT})(?:/#/([^}}]*))?\}}|\$({_IDENT})', re.DOTALL)
_TOKEN_PLAIN = re.compile(rf"'[^']*'|{_TOKEN_QUOTED.pattern}", re.DOTALL)


def render_command(command: str, values: Mapping[str, str]) -> str:
    """Put ``values`` in place of ``${NAME}``, ``$NAME`` and ``${NAME/#/PREFIX}``, as Bash would.

    Text in single quotes and escaped dollars stay as they are; names not in ``values`` are left
    for the shell to expand from the environment.
    """
    out: list[str] = []
    pos, in_double = 0, False
    while match := (_TOKEN_QUOTED if in_double else _TOKEN_PLAIN).search(command, pos):
        token, braced, prefix, bare = match.group(0), match.group(1), match.group(2), match.group(3)
        out.append(command[pos : match.start()])
        name = braced or bare
        if token == '"':
            in_double = not in_double
        elif name is not None and name in values:
            token = (prefix or "") + values[name]
        out.append(token)
        pos = match.end()
    out.append(command[pos:])
    return "".join(out)
