from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from scale.domain import seed
from scale.domain.resources import Resources
from scale.domain.states import ErrorCategory

DROP = object()  # an override value that removes the job member


def minimal_manifest(**overrides: Any) -> dict[str, Any]:
    """The smallest valid Seed 1.0.0 manifest, with job members replaced (or dropped with DROP)."""
    job: dict[str, Any] = {
        "name": "my-job",
        "jobVersion": "1.0.0",
        "packageVersion": "1.0.0",
        "title": "My Job",
        "description": "Does a thing",
        "maintainer": {"name": "Jane Doe", "email": "jdoe@example.com"},
        "timeout": 3600,
    }
    for key, value in overrides.items():
        if value is DROP:
            job.pop(key, None)
        else:
            job[key] = value
    return {"seedVersion": "1.0.0", "job": job}


def scalars(*pairs: tuple[str, Any]) -> dict[str, Any]:
    return {"scalar": [{"name": name, "value": value} for name, value in pairs]}


def full_manifest() -> dict[str, Any]:
    return minimal_manifest(
        tags=["image", "test"],
        resources={
            "scalar": [
                {"name": "cpus", "value": 2},
                {"name": "mem", "value": 64.0, "inputMultiplier": 4.0},
                {"name": "disk", "value": 10.5},
                {"name": "gpus", "value": 1},
                {"name": "sharedMem", "value": 99},
            ]
        },
        interface={
            "command": "run ${INPUT_FILE} ${COUNT} ${OUTPUT_DIR}",
            "inputs": {
                "files": [{"name": "INPUT_FILE", "mediaTypes": ["image/tiff"], "multiple": True}],
                "json": [
                    {"name": "COUNT", "type": "integer"},
                    {"name": "label-text", "type": "string", "required": False},
                ],
            },
            "outputs": {
                "files": [{"name": "TIFFS", "pattern": "*.tif", "mediaType": "image/tiff"}],
                "json": [
                    {"name": "CELL_COUNT", "type": "integer", "key": "cellCount"},
                    {"name": "X", "type": "string"},
                ],
            },
            "mounts": [{"name": "REF", "path": "/ref", "mode": "ro"}],
            "settings": [{"name": "DB_HOST"}, {"name": "DB_PASS", "secret": True}],
        },
        errors=[
            {"code": 1, "name": "bad-input", "title": "Bad Input", "category": "data"},
            {"code": 2, "name": "crash", "description": "It fell over"},
        ],
    )


def fields(errors: list[seed.FieldError]) -> list[str]:
    return [e.field for e in errors]


# --------------------------------------------------------------------------- parsing


def test_minimal_manifest_parses_with_minimum_resources() -> None:
    raw = minimal_manifest()
    assert seed.validate_manifest(raw) == []
    m = seed.parse_manifest(raw)
    assert (m.name, m.job_version, m.package_version) == ("my-job", "1.0.0", "1.0.0")
    assert (m.title, m.description, m.timeout) == ("My Job", "Does a thing", 3600)
    assert (m.maintainer_name, m.maintainer_email) == ("Jane Doe", "jdoe@example.com")
    assert m.command == "" and m.tags == () and m.errors == ()
    assert (m.json_inputs, m.file_inputs, m.json_outputs, m.file_outputs) == ((), (), (), ())
    assert m.resources == Resources(cpus=0.25, mem=128, disk=0, gpus=0)
    assert m.raw is raw


def test_full_manifest_parses_every_part() -> None:
    m = seed.parse_manifest(full_manifest())
    assert m.tags == ("image", "test")
    assert m.command == "run ${INPUT_FILE} ${COUNT} ${OUTPUT_DIR}"
    assert m.resources == Resources(cpus=2, mem=128, disk=10.5, gpus=1)  # mem raised to the minimum
    assert m.json_inputs == (
        seed.JsonInput("COUNT", "integer", True),
        seed.JsonInput("label-text", "string", False),
    )
    assert m.file_inputs == (seed.FileInput("INPUT_FILE", True, True, False, ("image/tiff",)),)
    assert m.json_outputs == (
        seed.JsonOutput("CELL_COUNT", "integer", True, "cellCount"),
        seed.JsonOutput("X", "string", True, "X"),
    )
    assert m.file_outputs == (seed.FileOutput("TIFFS", "*.tif", True, False, "image/tiff"),)
    assert m.errors == (
        seed.ErrorMapping(1, "bad-input", "Bad Input", None, ErrorCategory.DATA),
        seed.ErrorMapping(2, "crash", None, "It fell over", ErrorCategory.ALGORITHM),
    )


def test_parsed_manifest_is_frozen_and_compares_without_raw() -> None:
    a, b = seed.parse_manifest(minimal_manifest()), seed.parse_manifest(minimal_manifest())
    assert a == b and hash(a) == hash(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.name = "other"  # type: ignore[misc]


def test_resources_above_minimums_are_kept() -> None:
    raw = minimal_manifest(resources=scalars(("cpus", 0.1), ("mem", 4096), ("disk", 0), ("gpus", 2)))
    assert seed.parse_manifest(raw).resources == Resources(cpus=0.25, mem=4096, disk=0, gpus=2)


def test_error_for_exit_code() -> None:
    m = seed.parse_manifest(full_manifest())
    found = m.error_for_exit_code(1)
    assert found is not None and found.name == "bad-input" and found.category is ErrorCategory.DATA
    assert m.error_for_exit_code(2) == m.errors[1]
    assert m.error_for_exit_code(0) is None and m.error_for_exit_code(99) is None


def test_parse_raises_manifest_error_listing_every_problem() -> None:
    with pytest.raises(seed.ManifestError) as info:
        seed.parse_manifest(minimal_manifest(name="bad name", timeout=0))
    assert fields(info.value.errors) == ["manifest.job.name", "manifest.job.timeout"]
    assert "manifest.job.name: must match" in str(info.value)
    assert "manifest.job.timeout: must be between 1" in str(info.value)
    assert isinstance(info.value, ValueError)


# --------------------------------------------------------------------------- validation


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets a dotted path under ``job`` (numeric parts index lists)."""

    def apply(raw: dict[str, Any]) -> None:
        keys: list[Any] = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = raw["job"]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return apply


BAD_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"name": DROP}, "manifest.job.name", "is required"),
    ({"name": "my job"}, "manifest.job.name", "must match"),
    ({"name": "my_job"}, "manifest.job.name", "must match"),
    ({"name": "a" * 129}, "manifest.job.name", "at most 128"),
    ({"name": 5}, "manifest.job.name", "must be a string"),
    ({"jobVersion": "1.0"}, "manifest.job.jobVersion", "semantic version"),
    ({"jobVersion": "v1.0.0"}, "manifest.job.jobVersion", "semantic version"),
    ({"packageVersion": "01.0.0"}, "manifest.job.packageVersion", "semantic version"),
    ({"packageVersion": "1.0.0\n"}, "manifest.job.packageVersion", "semantic version"),
    ({"jobVersion": "1" * 300 + ".0.0"}, "manifest.job.jobVersion", "semantic version"),
    ({"title": DROP}, "manifest.job.title", "is required"),
    ({"description": None}, "manifest.job.description", "must be a string"),
    ({"maintainer": DROP}, "manifest.job.maintainer", "is required"),
    ({"maintainer": {"name": "x"}}, "manifest.job.maintainer.email", "is required"),
    ({"maintainer": {"name": "x", "email": "e", "fax": "1"}}, "manifest.job.maintainer.fax", "unknown field"),
    ({"timeout": DROP}, "manifest.job.timeout", "is required"),
    ({"timeout": 0}, "manifest.job.timeout", "between 1 and"),
    ({"timeout": -1}, "manifest.job.timeout", "between 1 and"),
    ({"timeout": 2**31}, "manifest.job.timeout", "between 1 and"),
    ({"timeout": "10"}, "manifest.job.timeout", "must be an integer, got string"),
    ({"timeout": True}, "manifest.job.timeout", "must be an integer, got boolean"),
    ({"timeout": 10.0}, "manifest.job.timeout", "must be an integer, got number"),
    ({"tags": ["a", 1]}, "manifest.job.tags", "array of strings"),
    ({"bogus": 1}, "manifest.job.bogus", "unknown field"),
    ({"resources": []}, "manifest.job.resources", "must be an object"),
    ({"resources": {}}, "manifest.job.resources.scalar", "is required"),
    ({"resources": scalars(("cpus", -1))}, "manifest.job.resources.scalar[0].value", "at least 0"),
    (
        {"resources": scalars(("mem", 1), ("gpus", 0.5))},
        "manifest.job.resources.scalar[1].value",
        "whole number",
    ),
    ({"resources": scalars(("cpus", True))}, "manifest.job.resources.scalar[0].value", "must be a number"),
    ({"resources": scalars(("cpus", "2"))}, "manifest.job.resources.scalar[0].value", "must be a number"),
    (
        {"resources": scalars(("cpus", float("inf")))},
        "manifest.job.resources.scalar[0].value",
        "out of range",
    ),
    (
        {"resources": scalars(("cpus", float("nan")))},
        "manifest.job.resources.scalar[0].value",
        "out of range",
    ),
    ({"resources": scalars(("disk", 10**400))}, "manifest.job.resources.scalar[0].value", "out of range"),
    ({"resources": scalars(("cpus", 1), ("cpus", 2))}, "manifest.job.resources.scalar[1].name", "duplicate"),
    ({"resources": scalars(("my resource", 1))}, "manifest.job.resources.scalar[0].name", "must match"),
    ({"resources": {"scalar": [{"name": "cpus"}]}}, "manifest.job.resources.scalar[0].value", "is required"),
    (
        {"resources": {"scalar": [{"name": "mem", "value": 1, "inputMultiplier": -2}]}},
        "manifest.job.resources.scalar[0].inputMultiplier",
        "at least 0",
    ),
    ({"errors": {}}, "manifest.job.errors", "must be an array"),
    (
        {"errors": [{"code": 1, "name": "a"}, {"code": 1, "name": "b"}]},
        "manifest.job.errors[1].code",
        "duplicate",
    ),
    (
        {"errors": [{"code": 1, "name": "a"}, {"code": 2, "name": "a"}]},
        "manifest.job.errors[1].name",
        "duplicate",
    ),
    (
        {"errors": [{"code": 1, "name": "a", "category": "system"}]},
        "manifest.job.errors[0].category",
        "'job' or 'data'",
    ),
    ({"errors": [{"code": True, "name": "a"}]}, "manifest.job.errors[0].code", "must be an integer"),
    ({"errors": [{"code": 1.0, "name": "a"}]}, "manifest.job.errors[0].code", "must be an integer"),
    ({"errors": [{"name": "a"}]}, "manifest.job.errors[0].code", "is required"),
    ({"errors": [{"code": 1}]}, "manifest.job.errors[0].name", "is required"),
    ({"errors": [{"code": 1, "name": "a" * 51}]}, "manifest.job.errors[0].name", "at most 50"),
    ({"errors": [{"code": 1, "name": "a b"}]}, "manifest.job.errors[0].name", "must match"),
    ({"errors": [{"code": 1, "name": "a", "title": 3}]}, "manifest.job.errors[0].title", "must be a string"),
    ({"errors": ["x"]}, "manifest.job.errors[0]", "must be an object"),
    ({"interface": []}, "manifest.job.interface", "must be an object"),
    ({"interface": {"command": ["ls"]}}, "manifest.job.interface.command", "must be a string"),
    ({"interface": {"cmd": "ls"}}, "manifest.job.interface.cmd", "unknown field"),
    ({"interface": {"inputs": []}}, "manifest.job.interface.inputs", "must be an object"),
    (
        {"interface": {"inputs": {"json": [{"name": "x", "type": "int"}]}}},
        "manifest.job.interface.inputs.json[0].type",
        "must be one of",
    ),
    (
        {"interface": {"inputs": {"json": [{"name": "x"}]}}},
        "manifest.job.interface.inputs.json[0].type",
        "is required",
    ),
    (
        {"interface": {"inputs": {"json": [{"name": "x", "type": "string", "required": "yes"}]}}},
        "manifest.job.interface.inputs.json[0].required",
        "must be a boolean",
    ),
    (
        {"interface": {"inputs": {"json": [{"name": "1x", "type": "string"}]}}},
        "manifest.job.interface.inputs.json[0].name",
        "must match",
    ),
    (
        {
            "interface": {
                "inputs": {"json": [{"name": "x", "type": "string"}, {"name": "x", "type": "string"}]}
            }
        },
        "manifest.job.interface.inputs.json[1].name",
        "duplicate input name: x",
    ),
    (
        {"interface": {"inputs": {"files": [{"name": "a-b"}], "json": [{"name": "A_B", "type": "string"}]}}},
        "manifest.job.interface.inputs.json[0].name",
        "environment variable A_B is also set by manifest.job.interface.inputs.files[0].name",
    ),
    (
        {"interface": {"inputs": {"files": [{"name": "x", "mediaTypes": "image/png"}]}}},
        "manifest.job.interface.inputs.files[0].mediaTypes",
        "array of strings",
    ),
    (
        {"interface": {"settings": [{"name": "OUTPUT_DIR"}]}},
        "manifest.job.interface.settings[0].name",
        "OUTPUT_DIR is reserved",
    ),
    (
        {"interface": {"settings": [{"name": "allocated-cpus"}]}},
        "manifest.job.interface.settings[0].name",
        "ALLOCATED_CPUS is reserved",
    ),
    (
        {"resources": scalars(("licenses", 1)), "interface": {"settings": [{"name": "ALLOCATED_LICENSES"}]}},
        "manifest.job.interface.settings[0].name",
        "is reserved",
    ),
    (
        {"interface": {"mounts": [{"name": "m", "path": "ref"}]}},
        "manifest.job.interface.mounts[0].path",
        "absolute path",
    ),
    (
        {"interface": {"mounts": [{"name": "m", "path": "/ref", "mode": "rx"}]}},
        "manifest.job.interface.mounts[0].mode",
        "'ro' or 'rw'",
    ),
    (
        {"interface": {"outputs": {"files": [{"name": "o"}]}}},
        "manifest.job.interface.outputs.files[0].pattern",
        "is required",
    ),
    (
        {
            "interface": {
                "outputs": {
                    "files": [{"name": "o", "pattern": "*"}],
                    "json": [{"name": "o", "type": "string"}],
                }
            }
        },
        "manifest.job.interface.outputs.json[0].name",
        "duplicate output name",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "field", "message"), BAD_CASES, ids=[c[1] + ":" + c[2] for c in BAD_CASES]
)
def test_bad_manifest_names_the_field(overrides: dict[str, Any], field: str, message: str) -> None:
    errors = seed.validate_manifest(minimal_manifest(**overrides))
    assert [e for e in errors if e.field == field and message in e.message], errors
    with pytest.raises(seed.ManifestError):
        seed.parse_manifest(minimal_manifest(**overrides))


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (None, "manifest", "must be an object, got null"),
        ([], "manifest", "must be an object, got array"),
        ("{}", "manifest", "must be an object, got string"),
        (3, "manifest", "must be an object, got integer"),
        ({"seedVersion": "1.0.0", "job": []}, "manifest.job", "must be an object, got array"),
        ({"seedVersion": "1.0.0"}, "manifest.job", "is required"),
        ({"job": minimal_manifest()["job"]}, "manifest.seedVersion", "is required"),
        ({**minimal_manifest(), "seedVersion": "0.1.0"}, "manifest.seedVersion", "must be '1.0.0'"),
        ({**minimal_manifest(), "seedVersion": 1}, "manifest.seedVersion", "must be a string"),
        ({**minimal_manifest(), "extra": {}}, "manifest.extra", "unknown field"),
    ],
)
def test_bad_manifest_shape(raw: object, field: str, message: str) -> None:
    errors = seed.validate_manifest(raw)
    assert [e for e in errors if e.field == field and message in e.message], errors


def test_several_problems_are_all_reported() -> None:
    raw = minimal_manifest(
        name="bad name",
        jobVersion="1",
        timeout=-5,
        resources=scalars(("cpus", -1), ("gpus", 1.5)),
        errors=[{"code": 1, "name": "a", "category": "oops"}, {"code": 1, "name": "b"}],
    )
    raw["seedVersion"] = "2.0.0"
    assert sorted(fields(seed.validate_manifest(raw))) == sorted(
        [
            "manifest.seedVersion",
            "manifest.job.name",
            "manifest.job.jobVersion",
            "manifest.job.timeout",
            "manifest.job.resources.scalar[0].value",
            "manifest.job.resources.scalar[1].value",
            "manifest.job.errors[0].category",
            "manifest.job.errors[1].code",
        ]
    )


def test_root_prefixes_every_path() -> None:
    errors = seed.validate_manifest(minimal_manifest(name=DROP, timeout=0), root="body.manifest")
    assert fields(errors) == ["body.manifest.job.name", "body.manifest.job.timeout"]
    assert fields(seed.validate_manifest(None, root="m")) == ["m"]


def test_same_name_in_different_lists_is_fine_unless_it_becomes_one_variable() -> None:
    raw = minimal_manifest(
        interface={
            "inputs": {"json": [{"name": "VALUE", "type": "string"}]},
            "outputs": {"json": [{"name": "VALUE", "type": "string"}]},
            "mounts": [{"name": "VALUE", "path": "/v"}],
        },
        errors=[{"code": 1, "name": "VALUE"}],
    )
    assert seed.validate_manifest(raw) == []


WEIRD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    10**1000,
    1e308,
    float("nan"),
    "",
    "x" * 10_000,
    [],
    {},
    [[[]]],
    {"a": {}},
]


@pytest.mark.parametrize("value", WEIRD_VALUES, ids=[type(v).__name__ for v in WEIRD_VALUES])
def test_never_raises_on_odd_values_anywhere(value: Any) -> None:
    base = full_manifest()
    targets = [
        "name", "jobVersion", "timeout", "maintainer", "maintainer.name", "tags", "resources",
        "resources.scalar", "resources.scalar.0", "resources.scalar.0.value", "resources.scalar.0.name",
        "interface", "interface.inputs", "interface.inputs.json", "interface.inputs.json.0",
        "interface.inputs.json.0.name", "interface.inputs.files.0.mediaTypes", "interface.outputs.files.0",
        "interface.mounts", "interface.settings.0.name", "errors", "errors.0", "errors.0.code",
        "errors.0.name",
    ]  # fmt: skip
    for target in targets:
        raw = copy.deepcopy(base)
        _set(target, value)(raw)
        errors = seed.validate_manifest(raw)
        assert isinstance(errors, list)
        if errors:
            with pytest.raises(seed.ManifestError):
                seed.parse_manifest(raw)
        else:
            seed.parse_manifest(raw)
    for top in (
        value,
        {"seedVersion": value, "job": value},
        {value if isinstance(value, str) else "k": value},
    ):
        assert isinstance(seed.validate_manifest(top), list)


# --------------------------------------------------------------------------- job input


def input_manifest() -> seed.SeedManifest:
    return seed.parse_manifest(
        minimal_manifest(
            interface={
                "command": "run ${COUNT}",
                "inputs": {
                    "files": [
                        {"name": "IMAGE"},
                        {"name": "EXTRAS", "required": False, "multiple": True},
                    ],
                    "json": [
                        {"name": "COUNT", "type": "integer"},
                        {"name": "RATIO", "type": "number", "required": False},
                        {"name": "FLAG", "type": "boolean", "required": False},
                        {"name": "TEXT", "type": "string", "required": False},
                        {"name": "OPTS", "type": "object", "required": False},
                        {"name": "ITEMS", "type": "array", "required": False},
                    ],
                },
            }
        )
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"json": {"COUNT": 3}, "files": {"IMAGE": [1]}}, []),
        ({"version": "7", "json": {"COUNT": 3}, "files": {"IMAGE": [1], "EXTRAS": [2, 3]}}, []),
        (
            {
                "json": {"COUNT": 1, "RATIO": 2, "FLAG": False, "TEXT": "", "OPTS": {}, "ITEMS": []},
                "files": {"IMAGE": [7]},
            },
            [],
        ),
        ({"json": {"COUNT": 1, "RATIO": 0.5}, "files": {"IMAGE": [1]}}, []),
        (
            {},
            [
                ("input.json.COUNT", "required input is missing"),
                ("input.files.IMAGE", "required input is missing"),
            ],
        ),
        (None, [("input", "must be an object, got null")]),
        ([], [("input", "must be an object, got array")]),
        ({"json": {"COUNT": 1}, "files": {"IMAGE": [1]}, "other": 1}, [("input.other", "unknown field")]),
        ({"json": [], "files": {"IMAGE": [1]}}, [("input.json", "must be an object, got array")]),
        ({"json": {"COUNT": 1}, "files": "1"}, [("input.files", "must be an object, got string")]),
        (
            {"json": {"COUNT": "3"}, "files": {"IMAGE": [1]}},
            [("input.json.COUNT", "must be of type integer, got string")],
        ),
        (
            {"json": {"COUNT": True}, "files": {"IMAGE": [1]}},
            [("input.json.COUNT", "must be of type integer, got boolean")],
        ),
        (
            {"json": {"COUNT": 1.0}, "files": {"IMAGE": [1]}},
            [("input.json.COUNT", "must be of type integer, got number")],
        ),
        (
            {"json": {"COUNT": None}, "files": {"IMAGE": [1]}},
            [("input.json.COUNT", "must be of type integer, got null")],
        ),
        (
            {
                "json": {"COUNT": 1, "RATIO": True, "FLAG": 1, "TEXT": 5, "OPTS": [], "ITEMS": {}},
                "files": {"IMAGE": [1]},
            },
            [
                ("input.json.RATIO", "must be of type number, got boolean"),
                ("input.json.FLAG", "must be of type boolean, got integer"),
                ("input.json.TEXT", "must be of type string, got integer"),
                ("input.json.OPTS", "must be of type object, got array"),
                ("input.json.ITEMS", "must be of type array, got object"),
            ],
        ),
        (
            {"json": {"COUNT": 1, "RATIO": float("inf")}, "files": {"IMAGE": [1]}},
            [("input.json.RATIO", "must be of type number, got number")],
        ),
        (
            {"json": {"COUNT": 1, "extra": 1}, "files": {"IMAGE": [1]}},
            [("input.json.extra", "the manifest declares no such input")],
        ),
        (
            {"json": {"COUNT": 1}, "files": {"IMAGE": [1], "OTHER": [2]}},
            [("input.files.OTHER", "the manifest declares no such input")],
        ),
        (
            {"json": {"COUNT": 1}, "files": {"IMAGE": []}},
            [("input.files.IMAGE", "required input is missing")],
        ),
        (
            {"json": {"COUNT": 1}, "files": {"IMAGE": [1, 2]}},
            [("input.files.IMAGE", "accepts one file only")],
        ),
        (
            {"json": {"COUNT": 1}, "files": {"IMAGE": ["1"]}},
            [("input.files.IMAGE", "must be an array of file ids (positive integers)")],
        ),
        (
            {"json": {"COUNT": 1}, "files": {"IMAGE": [True]}},
            [("input.files.IMAGE", "must be an array of file ids (positive integers)")],
        ),
        (
            {"json": {"COUNT": 1}, "files": {"IMAGE": 1}},
            [("input.files.IMAGE", "must be an array of file ids (positive integers)")],
        ),
        ({"json": {"COUNT": 1}, "files": {"IMAGE": [1], "EXTRAS": []}}, []),
        (
            {"version": 6, "json": {"COUNT": 1}, "files": {"IMAGE": [1]}},
            [("input.version", "must be a string, got integer")],
        ),
    ],
)
def test_validate_job_input(data: object, expected: list[tuple[str, str]]) -> None:
    errors = seed.validate_job_input(input_manifest(), data)
    assert [(e.field, e.message) for e in errors] == expected


def test_job_input_root_is_configurable() -> None:
    errors = seed.validate_job_input(input_manifest(), {}, root="data")
    assert fields(errors) == ["data.json.COUNT", "data.files.IMAGE"]


def test_manifest_without_inputs_accepts_empty_input_only() -> None:
    m = seed.parse_manifest(minimal_manifest())
    assert seed.validate_job_input(m, {}) == []
    assert seed.validate_job_input(m, {"json": {}, "files": {}}) == []
    assert fields(seed.validate_job_input(m, {"json": {"X": 1}})) == ["input.json.X"]


# --------------------------------------------------------------------------- command and environment


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("run ${COUNT}", "run 3"),
        ("run $COUNT", "run 3"),
        ("run ${COUNT}x $COUNT.txt", "run 3x 3.txt"),
        ("run $COUNTER ${COUNTER}", "run $COUNTER ${COUNTER}"),
        ("run ${HOME} $PATH ${UNKNOWN:-d}", "run ${HOME} $PATH ${UNKNOWN:-d}"),
        ('sh -c "exit ${COUNT}"', 'sh -c "exit 3"'),
        ("echo '${COUNT}' \"'$COUNT'\"", "echo '${COUNT}' \"'3'\""),
        ("echo \\$COUNT $$COUNT", "echo \\$COUNT $$COUNT"),
        ("run ${NAME/#/-n }", "run -n a b"),
        ("run ${EMPTY/#/-e }", "run -e "),
        ("run ${MISSING/#/-m }", "run ${MISSING/#/-m }"),
        ("run ${COUNT", "run ${COUNT"),
        ("no placeholders", "no placeholders"),
        ("", ""),
    ],
)
def test_render_command(command: str, expected: str) -> None:
    assert seed.render_command(command, {"COUNT": "3", "NAME": "a b", "EMPTY": ""}) == expected


def test_normalize_env_name() -> None:
    assert seed.normalize_env_name("label-text") == "LABEL_TEXT"
    assert seed.normalize_env_name("My_Input2") == "MY_INPUT2"


def test_job_environment_names_and_encodes_json_inputs() -> None:
    m = seed.parse_manifest(
        minimal_manifest(
            interface={
                "command": "run ${COUNT} ${label_text} ${LABEL_TEXT}",
                "inputs": {
                    "json": [
                        {"name": "COUNT", "type": "integer"},
                        {"name": "label-text", "type": "string"},
                        {"name": "ratio", "type": "number", "required": False},
                        {"name": "FLAG", "type": "boolean"},
                        {"name": "OPTS", "type": "object"},
                        {"name": "ITEMS", "type": "array"},
                        {"name": "ABSENT", "type": "string", "required": False},
                    ]
                },
            }
        )
    )
    values = {
        "COUNT": 3,
        "label-text": "hello world",
        "ratio": 0.5,
        "FLAG": False,
        "OPTS": {"a": [1, 2], "b": "é"},
        "ITEMS": ["x", 1, None],
        "UNDECLARED": "ignored",
    }
    expected = {
        "COUNT": "3",
        "LABEL_TEXT": "hello world",
        "RATIO": "0.5",
        "FLAG": "false",
        "OPTS": '{"a":[1,2],"b":"é"}',
        "ITEMS": '["x",1,null]',
    }
    assert seed.job_environment(m, values) == expected
    assert seed.command_values(m, values) == expected
    rendered = seed.render_command(m.command, seed.command_values(m, values))
    assert rendered == "run 3 ${label_text} hello world"


def test_job_environment_leaves_missing_and_null_optional_inputs_unset() -> None:
    m = input_manifest()
    assert seed.job_environment(m, {}) == {}
    assert seed.job_environment(m, {"COUNT": 1, "TEXT": None, "FLAG": True}) == {"COUNT": "1", "FLAG": "true"}
