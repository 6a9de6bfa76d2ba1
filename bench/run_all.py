"""Run the benchmarks of issue 6 that exist, at sizes that finish in under 5 minutes on SQLite.

Benchmark 1 runs at its target size (1000 nodes, 100,000 jobs): about 2.5 minutes on the
2-cpu development machine (see BENCHMARKS.md). ``--jobs`` and ``--nodes`` shrink it.

Only benchmark 1 (scheduling, on the sim backend: a SIMULATION) exists so far; the other
benchmarks of issue 6 have not been written yet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# ``python bench/run_all.py`` puts bench/ on the path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scheduling import fresh_database, run_benchmark

NODES = 1000
JOBS = 100_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks of issue 6 that exist.")
    parser.add_argument("--nodes", type=int, default=NODES)
    parser.add_argument("--jobs", type=int, default=JOBS)
    args = parser.parse_args(argv)
    print("SIMULATION: the scheduler on the sim backend; no real tasks run.", flush=True)
    print(f"Benchmark 1 (scheduling): {args.nodes} nodes, {args.jobs} jobs, SQLite", flush=True)
    with fresh_database("sqlite") as db:
        result = run_benchmark(db, db_kind="sqlite", nodes=args.nodes, jobs=args.jobs, max_passes=10_000)
    print(result.table())
    print("Other benchmarks of issue 6: not written yet.")
    print(result.result_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
