"""Run the four benchmarks of issue 6 at the issue's sizes and print one table (``make bench``).

1. scheduling throughput (``bench/scheduling.py``), 1,000 nodes x 100,000 jobs, on SQLite and,
   when it answers, on PostgreSQL (127.0.0.1:5432);
2. status build cost (``bench/status_build.py``), 10, 100 and 1,000 nodes, 10,000 running;
3. API load (``bench/api_load.py``), 50 clients x 20 s per endpoint, 1,000 simulated nodes,
   once as ``scale up`` runs (API and scheduler in one process) and once split (``scale api``
   and ``scale scheduler``);
4. peak memory of the scheduler process, from benchmark 1.

Each benchmark runs as its own subprocess (so its peak memory is its own) and is read back
through its last ``RESULT`` line. Everything runs on the ``sim`` backend: a SIMULATION. About
9 minutes on the 2-cpu development machine; ``--quick`` runs small sizes in about one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Row:
    benchmark: str
    size: str
    metric: str
    value: str
    target: str
    met: str


def run_script(name: str, args: list[str]) -> list[dict[str, str]]:
    """Run ``bench/<name>``, echo its output, and return every RESULT line as a dict."""
    cmd = [sys.executable, str(BENCH / name), *args]
    print(f"\n$ {' '.join(['python', f'bench/{name}', *args])}", flush=True)
    results: list[dict[str, str]] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(f"  {line}", end="", flush=True)
            if line.startswith("RESULT "):
                results.append(dict(item.split("=", 1) for item in line.split()[1:]))
    if proc.returncode != 0:
        raise RuntimeError(f"bench/{name} exited with {proc.returncode}")
    if not results:
        raise RuntimeError(f"bench/{name} printed no RESULT line")
    return results


def _judge(value: float, ok: Callable[[float], bool]) -> str:
    return "yes" if ok(value) else "NO"


def _pct(value: float, target: float) -> str:
    return f"{(value - target) / target:+.0%}"


def scheduling_rows(db: str, size: str, r: dict[str, str], jobs: int) -> list[Row]:
    lps = float(r["launches_per_sec"])
    p99 = float(r["pass_p99_ms"])
    rss = float(r["peak_rss_mb"])
    done = int(r["completed"])
    name = f"1 scheduling ({db})"
    rows = [
        Row(
            name, size, "launches/s", f"{lps:.0f}", ">= 2000 (stretch 5000)", _judge(lps, lambda v: v >= 2000)
        ),
        Row(name, size, "pass p50 ms", r["pass_p50_ms"], "-", "-"),
        Row(name, size, "pass p99 ms", f"{p99:.0f}", "< 250", _judge(p99, lambda v: v < 250)),
        Row(name, size, "pass max ms", r.get("pass_max_ms", "?"), "-", "-"),
        Row(name, size, "all completed s", r.get("all_done_s", "?"), "-", "-"),
        Row(name, size, "completed", f"{done}", f"= {jobs}", _judge(done, lambda v: v == jobs)),
    ]
    if db == "sqlite":
        rows.append(
            Row(
                "4 scheduler memory",
                size,
                "peak RSS MiB",
                f"{rss:.0f}",
                "< 1024",
                _judge(rss, lambda v: v < 1024),
            )
        )
    else:
        rows.append(
            Row(
                "4 scheduler memory (pg)",
                size,
                "peak RSS MiB",
                f"{rss:.0f}",
                "< 1024",
                _judge(rss, lambda v: v < 1024),
            )
        )
    return rows


def status_rows(results: list[dict[str, str]], running: int) -> list[Row]:
    rows = []
    for r in results:
        nodes = int(r["nodes"])
        size = f"{nodes} nodes, {running} running"
        build = float(r["build_ms"])
        is_target = nodes == max(int(x["nodes"]) for x in results)
        rows.append(
            Row(
                "2 status build",
                size,
                "build ms",
                f"{build:.1f}",
                "< 100" if is_target else "-",
                _judge(build, lambda v: v < 100) if is_target else "-",
            )
        )
        rows.append(Row("2 status build", size, "bytes", r["bytes"], "-", "-"))
    if len(results) >= 2:
        a, b = results[-2], results[-1]
        per_a = int(a["bytes"]) / int(a["nodes"])
        per_b = int(b["bytes"]) / int(b["nodes"])
        rows.append(
            Row(
                "2 status build",
                f"{a['nodes']} -> {b['nodes']} nodes",
                "bytes/node",
                f"{per_a:.0f} -> {per_b:.0f}",
                "linear (within 25%)",
                _judge(per_b / per_a, lambda v: 0.75 <= v <= 1.25),
            )
        )
    return rows


def api_rows(r: dict[str, str], size: str, topology: str, *, jobs: bool) -> list[Row]:
    """The status rows of one API run (gzip, then identity where it ran), judged against the
    target each, and the jobs list rows when ``jobs``."""
    rows: list[Row] = []
    variants = [("status", "gzip")]
    if "status_identity_rps" in r:
        variants.append(("status_identity", "identity"))
    for key, encoding in variants:
        name = f"3 API GET /v6/status/ ({encoding}, {topology})"
        rps = float(r[f"{key}_rps"])
        p99 = float(r[f"{key}_p99_ms"])
        rows += [
            Row(name, size, "requests/s", f"{rps:.0f}", ">= 3000", _judge(rps, lambda v: v >= 3000)),
            Row(name, size, "p50 ms", r.get(f"{key}_p50_ms", "?"), "-", "-"),
            Row(name, size, "p99 ms", f"{p99:.1f}", "< 20", _judge(p99, lambda v: v < 20)),
        ]
    if jobs:
        name = f"3 API GET /v6/jobs/ (100, {topology})"
        rows += [
            Row(name, size, "requests/s", f"{float(r['jobs_rps']):.0f}", "-", "-"),
            Row(name, size, "p50 ms", r.get("jobs_p50_ms", "?"), "-", "-"),
            Row(name, size, "p99 ms", r["jobs_p99_ms"], "-", "-"),
        ]
    return rows


def table(rows: list[Row]) -> str:
    header = Row("benchmark", "size", "metric", "value", "target", "met?")
    cols = list(
        zip(
            *[(r.benchmark, r.size, r.metric, r.value, r.target, r.met) for r in [header, *rows]], strict=True
        )
    )
    widths = [max(len(c) for c in col) for col in cols]

    def fmt(r: Row) -> str:
        cells = (r.benchmark, r.size, r.metric, r.value, r.target, r.met)
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(header), rule, *(fmt(r) for r in rows)])


def postgres_reachable() -> bool:
    sys.path.insert(0, str(BENCH.parent))
    from sqlalchemy import create_engine, text

    from bench.scheduling import PG_ADMIN_URL

    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks of issue 6 and print one table.")
    parser.add_argument("--nodes", type=int, default=1000, help="benchmark 1: simulated nodes")
    parser.add_argument("--jobs", type=int, default=100_000, help="benchmark 1: queued jobs")
    parser.add_argument("--status-nodes", type=int, nargs="+", default=[10, 100, 1000], help="benchmark 2")
    parser.add_argument("--running", type=int, default=10_000, help="benchmark 2: running executions")
    parser.add_argument("--api-nodes", type=int, default=1000, help="benchmark 3: simulated nodes")
    parser.add_argument("--clients", type=int, default=50, help="benchmark 3")
    parser.add_argument("--seconds", type=float, default=20.0, help="benchmark 3: per endpoint")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both", help="benchmark 1")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not a measurement)")
    args = parser.parse_args(argv)
    if args.quick:
        args.nodes, args.jobs = 50, 2000
        args.status_nodes, args.running = [10, 100], 1000
        args.api_nodes, args.clients, args.seconds = 100, 10, 3.0

    started = time.perf_counter()
    print("SIMULATION: every benchmark runs the scheduler on the sim backend; no real tasks run.")
    print(f"machine: {os.cpu_count()} cpus; load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    rows: list[Row] = []

    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if "postgresql" in dbs and not postgres_reachable():
        print("PostgreSQL at 127.0.0.1:5432 does not answer: benchmark 1 runs on SQLite only.")
        dbs.remove("postgresql")
    size1 = f"{args.nodes} nodes, {args.jobs} jobs"
    for db in dbs:
        (r,) = run_script(
            "scheduling.py", ["--nodes", str(args.nodes), "--jobs", str(args.jobs), "--db", db]
        )[-1:]
        rows += scheduling_rows(db, size1, r, args.jobs)

    status_args = ["--running", str(args.running)]
    for n in args.status_nodes:
        status_args += ["--nodes", str(n)]
    rows += status_rows(run_script("status_build.py", status_args), args.running)

    api_args = [
        "--clients",
        str(args.clients),
        "--seconds",
        f"{args.seconds:g}",
        "--nodes",
        str(args.api_nodes),
    ]
    # wrk (Debian's package) where installed: a C load generator that saturates the server even
    # with the 1 MB uncompressed status; else the Python one, which then saturates first.
    client = "wrk" if shutil.which("wrk") else "raw"
    if client == "raw":
        print("wrk is not installed (apt-get install wrk): benchmark 3 uses the Python load generator.")
    size3 = f"{args.clients} clients, {args.seconds:g} s, {args.api_nodes} nodes"
    for topology in ("all-in-one", "split"):
        (r,) = run_script("api_load.py", [*api_args, "--topology", topology, "--client", client])[-1:]
        rows += api_rows(r, size3, f"{topology}, {client}", jobs=topology == "all-in-one")

    total = time.perf_counter() - started
    print(
        f"\nIssue 6 benchmarks (SIMULATION backend), {total / 60:.1f} min in all, "
        f"load average {os.getloadavg()[0]:.2f} at the end:"
    )
    print(table(rows), flush=True)
    missed = [r for r in rows if r.met == "NO"]
    print(f"targets: {sum(r.met == 'yes' for r in rows)} met, {len(missed)} missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
