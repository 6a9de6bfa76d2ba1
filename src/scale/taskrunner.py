"""Scale's own pre and post steps for the process runtime, run as tasks on a node.

Kept free of heavy imports so a task starts in a few tens of milliseconds.

    python -m scale.taskrunner pre    prepare the working directory: inputs.json, outputs/
    python -m scale.taskrunner post   check outputs/seed.outputs.json, write results.json

Exit codes follow Scale's built-in table: 4 filesystem I/O, 5 invalid results manifest.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

EXIT_FILESYSTEM_IO = 4
EXIT_INVALID_RESULTS = 5


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


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in {"pre", "post"}:
        print("usage: python -m scale.taskrunner pre|post", file=sys.stderr)
        return 2
    workdir = Path.cwd()
    return pre(workdir) if argv[0] == "pre" else post(workdir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
