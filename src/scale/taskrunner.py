"""Scale's own pre and post steps for the process runtime, run as tasks on a node.

Kept free of heavy imports so a task starts in a few tens of milliseconds.

    python -m scale.taskrunner pre    prepare the working directory: inputs.json, outputs/
    python -m scale.taskrunner post   check outputs/seed.outputs.json, write results.json
    python -m scale.taskrunner health PATH MIN_FREE_MB
                                      node health: exit 3 when PATH's disk has too little free
    python -m scale.taskrunner cleanup ROOT [--initial] [NAME ...]
                                      node cleanup: remove execution directories under ROOT
                                      (initial: all but the NAMEs given; else: the NAMEs given),
                                      keeping each one's logs/

Exit codes follow Scale's built-in table: 4 filesystem I/O, 5 invalid results manifest.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

EXIT_FILESYSTEM_IO = 4
EXIT_INVALID_RESULTS = 5
EXIT_LOW_DISK = 3


def pre(workdir: Path) -> int:
    try:
        (workdir / "outputs").mkdir(parents=True, exist_ok=True)
        job_input = json.loads(os.environ.get("SCALE_JOB_INPUT", "{}"))
        (workdir / "inputs.json").write_text(json.dumps(job_input, indent=2, sort_keys=True))
    except OSError as exc:
        print(f"pre: cannot prepare {workdir}: {exc}", file=sys.stderr)
        return EXIT_FILESYSTEM_IO
    print(f"pre: prepared {workdir}")
    return 0


def post(workdir: Path) -> int:
    manifest = workdir / "outputs" / "seed.outputs.json"
    results: dict[str, object] = {}
    if manifest.exists():
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            print(f"post: invalid results manifest: {exc}", file=sys.stderr)
            return EXIT_INVALID_RESULTS
        if not isinstance(data, dict):
            print("post: results manifest must be a JSON object", file=sys.stderr)
            return EXIT_INVALID_RESULTS
        results = data
    try:
        (workdir / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True))
    except OSError as exc:
        print(f"post: cannot write results: {exc}", file=sys.stderr)
        return EXIT_FILESYSTEM_IO
    print(f"post: collected {len(results)} output value(s)")
    return 0


def health(path: Path, min_free_mb: float) -> int:
    import shutil

    path.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(path).free / (1024 * 1024)
    if free_mb < min_free_mb:
        print(f"health: {free_mb:.0f} MiB free on {path}, below {min_free_mb:.0f} MiB", file=sys.stderr)
        return EXIT_LOW_DISK
    print(f"health: ok, {free_mb:.0f} MiB free on {path}")
    return 0


def _clean_one(directory: Path) -> None:
    """Remove an execution's working files; its logs stay so they can still be read."""
    import shutil

    for child in directory.iterdir():
        if child.name == "logs":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def cleanup(root: Path, initial: bool, names: list[str]) -> int:
    if not root.exists():
        print(f"cleanup: nothing under {root}")
        return 0
    if initial:
        keep = set(names)
        targets = [d for d in root.iterdir() if d.is_dir() and d.name not in keep]
    else:
        targets = [root / n for n in names if (root / n).is_dir()]
    try:
        for directory in targets:
            _clean_one(directory)
    except OSError as exc:
        print(f"cleanup: {exc}", file=sys.stderr)
        return EXIT_FILESYSTEM_IO
    print(f"cleanup: cleaned {len(targets)} execution directory(ies) under {root}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["health"] and len(argv) == 3:
        return health(Path(argv[1]), float(argv[2]))
    if argv[:1] == ["cleanup"] and len(argv) >= 2:
        rest = argv[2:]
        initial = "--initial" in rest
        return cleanup(Path(argv[1]), initial, [a for a in rest if a != "--initial"])
    if len(argv) != 1 or argv[0] not in {"pre", "post"}:
        print("usage: python -m scale.taskrunner pre|post|health|cleanup ...", file=sys.stderr)
        return 2
    workdir = Path.cwd()
    return pre(workdir) if argv[0] == "pre" else post(workdir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
