"""Benchmark 3 of issue 6: the REST API under load, with the scheduler running (a SIMULATION).

``python bench/api_load.py --clients 50 --seconds 20``

1. A temporary data directory gets a migrated SQLite database with ``--jobs`` queued jobs.
2. The system starts as ``scale up`` does (API, scheduler loops and message handlers in one
   process), on the ``sim`` backend with ``--nodes`` simulated nodes, as a real subprocess on a
   free loopback port (``python bench/api_load.py --serve ...``).
3. Once ``GET /v6/status/`` answers 200, a SECOND process (the load generator) holds
   ``--clients`` keep-alive connections and sends requests back to back for ``--seconds`` to
   ``GET /v6/status/`` with ``Accept-Encoding: gzip`` (as browsers, curl --compressed, requests
   and httpx send it), then as long without it (the whole JSON), then as long to
   ``GET /v6/jobs/?page_size=100``.

The load generator is a small asyncio HTTP/1.1 client on raw streams (``--client raw``, the
default) because on a 2-cpu machine it shares the cpus with the server: httpx
(``--client httpx``) spends several times more cpu per request, which the server then lacks.
Both the generator's cpu and the server's (API and scheduler threads together) are reported,
as a share of one cpu, so the numbers can be read honestly. Latency is measured per request,
from just before it is written to when its whole body has been read.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing as mp
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty
from typing import Any

# ``python bench/api_load.py`` puts bench/ on the path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scheduling import populate

STATUS_PATH = "/v6/status/"
JOBS_PATH = "/v6/jobs/?page_size=100"
STATUS_TARGET_RPS = 3000.0
STATUS_TARGET_P99_MS = 20.0


# --------------------------------------------------------------------------- the server


def serve(data_dir: Path, port: int, nodes: int) -> None:
    """Run what ``scale up --backend sim`` runs, with ``nodes`` simulated nodes, until SIGTERM."""
    from scale.api.app import create_app
    from scale.bootstrap import build_database, build_scheduler_service, tune_gc_for_scheduler
    from scale.cli.main import _serve
    from scale.config import Settings

    settings = Settings(
        data_dir=data_dir, port=port, backend="sim", sim_nodes=nodes, log_level="WARNING", public_read=True
    )
    db = build_database(settings)
    service = build_scheduler_service(settings, db)
    tune_gc_for_scheduler()
    service.start(background=True)
    try:
        _serve(settings, create_app(settings, db))
    finally:
        service.stop()
        db.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system cpu seconds of a process, all its threads, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """The system under test, as subprocesses with their own temporary data directory: one
    process (``all-in-one``, as ``scale up``) or ``scale api`` and ``scale scheduler`` (``split``)."""

    processes: list[subprocess.Popen[bytes]]
    port: int
    data_dir: Path
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(p.pid) for p in self.processes)

    def exited(self) -> subprocess.Popen[bytes] | None:
        return next((p for p in self.processes if p.poll() is not None), None)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


TOPOLOGIES = ("all-in-one", "split")


def start_server(
    *, nodes: int, jobs: int, topology: str = "all-in-one", ready_timeout_s: float = 120.0
) -> Server:
    """Populate a fresh database, start the server on a free port, wait for a fresh status.

    ``all-in-one`` runs what ``scale up`` runs (API and scheduler share one process and one
    GIL); ``split`` runs ``scale api`` and ``scale scheduler --backend sim`` as two processes on
    the same database, as a deployment beyond one process does.
    """
    from scale.store.db import Database
    from scale.store.migrate import update_database

    data_dir = Path(tempfile.mkdtemp(prefix="scale-api-load-"))
    db = Database(f"sqlite:///{(data_dir / 'scale.db').resolve()}")
    update_database(db)
    populate(db, jobs, datetime.now(UTC) - timedelta(seconds=1))
    db.dispose()

    port = free_port()
    log = data_dir / "server.log"
    if topology == "all-in-one":
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", "--data-dir", str(data_dir)]
        commands = [[*cmd, "--port", str(port), "--nodes", str(nodes)]]
    elif topology == "split":
        scale = [sys.executable, "-m", "scale"]
        commands = [
            [*scale, "scheduler", "--backend", "sim", "--sim-nodes", str(nodes), "--data-dir", str(data_dir)],
            [*scale, "api", "--port", str(port), "--data-dir", str(data_dir)],
        ]
    else:
        raise ValueError(f"topology: one of {', '.join(TOPOLOGIES)}, not {topology!r}")
    env = {**os.environ, "SCALE_LOG_LEVEL": "WARNING", "SCALE_PUBLIC_READ": "true"}
    with log.open("wb") as out:
        processes = [subprocess.Popen(c, stdout=out, stderr=subprocess.STDOUT, env=env) for c in commands]
    server = Server(processes=processes, port=port, data_dir=data_dir, log=log)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        exited = server.exited()
        if exited is not None:
            text = log.read_text(errors="replace")
            server.stop()
            raise RuntimeError(f"{exited.args} exited with {exited.returncode}:\n{text}")
        try:
            with urllib.request.urlopen(server.base_url + STATUS_PATH, timeout=5) as response:
                if response.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"no 200 from {STATUS_PATH} within {ready_timeout_s:.0f} s")


def count_jobs(server: Server, query: str = "") -> int:
    """How many jobs ``GET /v6/jobs/`` lists (a count only: page_size=1)."""
    with urllib.request.urlopen(f"{server.base_url}/v6/jobs/?page_size=1{query}", timeout=30) as response:
        return int(json.load(response)["count"])


def open_jobs(server: Server) -> int:
    """Jobs still QUEUED or RUNNING."""
    return count_jobs(server, "&status=QUEUED&status=RUNNING")


def settle(server: Server, timeout_s: float = 300.0) -> float:
    """Wait until every job has ended, so the load meets an idle (but running) scheduler."""
    start = time.monotonic()
    while open_jobs(server):
        if time.monotonic() - start > timeout_s:
            raise RuntimeError(f"jobs still open after {timeout_s:.0f} s")
        time.sleep(1.0)
    return time.monotonic() - start


# --------------------------------------------------------------------------- the load generator


@dataclass
class LoadResult:
    path: str
    clients: int
    seconds: float
    gzip: bool = False
    requests: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    bytes: int = 0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    #: Percentiles a load generator reported itself (wrk), by quantile; used where no latencies are kept.
    reported_ms: dict[float, float] = field(default_factory=dict)

    def pct(self, q: float) -> float:
        if q in self.reported_ms:
            return self.reported_ms[q]
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class _RawConnection:
    """One keep-alive HTTP/1.1 connection: enough of the protocol for GETs against uvicorn."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader = reader
        self.writer = writer
        self.host = host
        #: The first body this connection read, kept so the run can check what it was served.
        self.first_body: bytes | None = None
        self.first_encoding: bytes = b""

    @classmethod
    async def open(cls, host: str, port: int) -> _RawConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, host)

    async def get(self, path: str, *, gzip: bool = False) -> tuple[int, int]:
        """(status code, body length); raises on a malformed or closed response.

        With ``gzip`` the request says ``Accept-Encoding: gzip`` as browsers, curl --compressed,
        requests and httpx do; the body is read but not inflated (that would cost the load
        generator more cpu than the server spends), except the first one, kept for a check.
        """
        extra = "Accept-Encoding: gzip\r\n" if gzip else ""
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{extra}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        code = int(lines[0].split(b" ", 2)[1])
        length = 0
        encoding = b""
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"content-encoding":
                encoding = value.strip().lower()
            elif name.strip().lower() == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by the raw client")
        if length:
            body = await self.reader.readexactly(length)
            if self.first_body is None:
                self.first_body, self.first_encoding = body, encoding
        return code, length

    def close(self) -> None:
        self.writer.close()


async def _drive_raw(
    host: str, port: int, path: str, clients: int, seconds: float, result: LoadResult
) -> None:
    """``clients`` connections sending back to back; then one body per connection is checked."""
    connections = [await _RawConnection.open(host, port) for _ in range(clients)]
    deadline = time.perf_counter() + seconds

    async def client(conn: _RawConnection) -> None:
        while True:
            start = time.perf_counter()
            if start >= deadline:
                return
            try:
                code, length = await conn.get(path, gzip=result.gzip)
            except (OSError, asyncio.IncompleteReadError, RuntimeError, ValueError):
                result.errors += 1
                conn.close()
                conn = await _RawConnection.open(host, port)
                continue
            result.latencies_ms.append((time.perf_counter() - start) * 1000.0)
            result.requests += 1
            result.bytes += length
            result.statuses[code] = result.statuses.get(code, 0) + 1

    await asyncio.gather(*(client(c) for c in connections))
    for conn in connections:
        _check_body(conn.first_body, conn.first_encoding, result)
        conn.close()


def _check_body(body: bytes | None, encoding: bytes, result: LoadResult) -> None:
    """A served body must be JSON, gzip-wrapped exactly when gzip was asked for; else an error."""
    if body is None:
        return
    try:
        if encoding == b"gzip":
            if not result.gzip:
                raise ValueError("gzip sent to a client that did not ask for it")
            body = gzip.decompress(body)
        json.loads(body)
    except (ValueError, OSError):
        result.errors += 1


async def _drive_httpx(base_url: str, path: str, clients: int, seconds: float, result: LoadResult) -> None:
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as http:
        deadline = time.perf_counter() + seconds

        # httpx asks for gzip itself; only a run without gzip has to say so.
        headers = {} if result.gzip else {"Accept-Encoding": "identity"}

        async def client() -> None:
            while True:
                start = time.perf_counter()
                if start >= deadline:
                    return
                try:
                    response = await http.get(path, headers=headers)
                except httpx.HTTPError:
                    result.errors += 1
                    continue
                result.latencies_ms.append((time.perf_counter() - start) * 1000.0)
                result.requests += 1
                result.bytes += len(response.content)
                result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(client() for _ in range(clients)))


def _generator(
    base_url: str,
    path: str,
    clients: int,
    seconds: float,
    kind: str,
    gzip: bool,
    out: mp.Queue[dict[str, Any]],
) -> None:
    """The load generator process: one event loop, ``clients`` concurrent connections."""
    result = LoadResult(path=path, clients=clients, seconds=seconds, gzip=gzip)
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    if kind == "raw":
        asyncio.run(_drive_raw(host, int(port), path, clients, seconds, result))
    else:
        asyncio.run(_drive_httpx(base_url, path, clients, seconds, result))
    result.seconds = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    out.put(result.__dict__)


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(value: str) -> float:
    """``812.00us``, ``5.13ms``, ``1.02s`` -> milliseconds."""
    for unit in ("us", "ms", "s", "m"):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * _WRK_UNITS[unit]
    raise ValueError(f"not a wrk duration: {value!r}")


def _wrk_bytes(value: str) -> int:
    """``3.49GB``, ``812.00KB``, ``100B`` -> bytes (wrk counts in powers of 1024)."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024), ("B", 1)):
        if value.endswith(unit):
            return int(float(value[: -len(unit)]) * scale)
    raise ValueError(f"not a wrk size: {value!r}")


def parse_wrk(text: str, result: LoadResult) -> LoadResult:
    """Fill ``result`` from ``wrk --latency`` output: requests, errors, non-2xx, p50/p99/max."""
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "Latency" and len(words) >= 4:
            result.reported_ms[1.0] = _wrk_ms(words[3])
        elif words[0] in ("50%", "99%") and len(words) == 2:
            result.reported_ms[0.5 if words[0] == "50%" else 0.99] = _wrk_ms(words[1])
        elif len(words) >= 6 and words[1] == "requests" and words[2] == "in":
            # "174194 requests in 20.01s, 3.49GB read"
            result.requests = int(words[0])
            result.seconds = _wrk_ms(words[3].rstrip(",")) / 1000.0
            result.bytes = _wrk_bytes(words[4])
        elif words[:2] == ["Socket", "errors:"]:
            result.errors += sum(int(w.rstrip(",")) for w in words[3::2])
        elif words[:2] == ["Non-2xx", "or"]:
            result.statuses[0] = int(words[-1])
    # wrk does not tell the codes apart: "0" counts the non-2xx/3xx answers, "200" the rest.
    result.statuses[200] = result.requests - result.statuses.get(0, 0)
    return result


def drive_wrk(server: Server, path: str, *, clients: int, seconds: float, gzip: bool) -> LoadResult:
    """Load ``path`` with wrk (Debian's ``wrk``: C, one thread) instead of the Python generator.

    wrk spends far less cpu per response than any Python client, which matters for the 1 MB
    uncompressed status: there the Python generator, not the server, is what saturates.
    Non-2xx answers are counted apart from the 200s ("codes" 0:N in the table).
    """
    result = LoadResult(path=path, clients=clients, seconds=seconds, gzip=gzip)
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--latency", "--timeout", "30s"]
    if gzip:
        cmd += ["-H", "Accept-Encoding: gzip"]
    server_cpu0 = server.cpu_seconds()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [*cmd, server.base_url + path], capture_output=True, text=True, timeout=seconds + 120
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}: {done.stderr.strip()}")
    result.server_cpu_s = server.cpu_seconds() - server_cpu0
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, reaped by run()
    result.client_cpu_s = (children1.ru_utime - children0.ru_utime) + (
        children1.ru_stime - children0.ru_stime
    )
    return parse_wrk(done.stdout, result)


def drive(
    server: Server, path: str, *, clients: int, seconds: float, kind: str = "raw", gzip: bool = False
) -> LoadResult:
    """Load ``path`` from a second process for ``seconds``; the server's cpu over the same span."""
    if kind == "wrk":
        return drive_wrk(server, path, clients=clients, seconds=seconds, gzip=gzip)
    ctx = mp.get_context("spawn")
    queue: mp.Queue[dict[str, Any]] = ctx.Queue()
    process = ctx.Process(
        target=_generator, args=(server.base_url, path, clients, seconds, kind, gzip, queue)
    )
    server_cpu0 = server.cpu_seconds()
    process.start()
    deadline = time.monotonic() + seconds + 120
    try:
        while True:
            try:
                data = queue.get(timeout=1.0)
                break
            except Empty:
                if not process.is_alive():
                    raise RuntimeError(f"the load generator exited with {process.exitcode}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("the load generator did not finish") from None
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()
    server_cpu1 = server.cpu_seconds()
    result = LoadResult(**data)
    result.server_cpu_s = server_cpu1 - server_cpu0
    return result


# --------------------------------------------------------------------------- report


@dataclass
class ApiLoadResult:
    status: LoadResult
    jobs: LoadResult
    nodes: int
    jobs_queued: int
    client: str
    topology: str = "all-in-one"
    settled: bool = True
    job_rows: int = 0
    #: ``GET /v6/status/`` without ``Accept-Encoding``: the whole JSON (about 1 MB at 1,000 nodes).
    status_identity: LoadResult | None = None

    def table(self) -> str:
        header = (
            "endpoint",
            "rps",
            "p50 ms",
            "p99 ms",
            "max ms",
            "codes",
            "errors",
            "client cpu",
            "server cpu",
        )
        rows = []
        loads = [self.status, *([self.status_identity] if self.status_identity else []), self.jobs]
        for r in loads:
            codes = ",".join(f"{c}:{n}" for c, n in sorted(r.statuses.items()))
            encoding = " (gzip)" if r.gzip else " (identity)" if r.path == STATUS_PATH else ""
            rows.append(
                (
                    f"GET {r.path}{encoding}",
                    f"{r.rps:.0f}",
                    f"{r.pct(0.5):.1f}",
                    f"{r.pct(0.99):.1f}",
                    f"{r.pct(1.0):.1f}",
                    codes,
                    str(r.errors),
                    f"{r.client_cpu_s / r.seconds:.0%}" if r.seconds else "-",
                    f"{r.server_cpu_s / r.seconds:.0%}" if r.seconds else "-",
                )
            )
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        lines.append("(cpu: seconds of cpu per second of load; 100% = one full cpu of the machine's 2)")
        return "\n".join(lines)

    def result_line(self) -> str:
        """``status_*`` is the run with ``Accept-Encoding: gzip`` (what most clients send);
        ``status_identity_*`` the one without, when it ran."""
        line = (
            f"RESULT status_rps={self.status.rps:.1f} status_p99_ms={self.status.pct(0.99):.1f} "
            f"jobs_rps={self.jobs.rps:.1f} jobs_p99_ms={self.jobs.pct(0.99):.1f} "
            f"status_p50_ms={self.status.pct(0.5):.1f} jobs_p50_ms={self.jobs.pct(0.5):.1f} "
            f"status_gzip={int(self.status.gzip)}"
        )
        if self.status_identity is not None:
            r = self.status_identity
            line += (
                f" status_identity_rps={r.rps:.1f} status_identity_p99_ms={r.pct(0.99):.1f}"
                f" status_identity_p50_ms={r.pct(0.5):.1f}"
            )
        return line


def run_load(
    *,
    clients: int,
    seconds: float,
    nodes: int,
    jobs: int,
    client: str = "raw",
    settled: bool = True,
    topology: str = "all-in-one",
) -> ApiLoadResult:
    """Start the system, optionally wait for its jobs to end, load each endpoint in turn:
    the status with gzip, the status without, the jobs list."""
    server = start_server(nodes=nodes, jobs=jobs, topology=topology)
    try:
        if settled:
            settle(server)
        job_rows = count_jobs(server)
        status = drive(server, STATUS_PATH, clients=clients, seconds=seconds, kind=client, gzip=True)
        identity = drive(server, STATUS_PATH, clients=clients, seconds=seconds, kind=client, gzip=False)
        listing = drive(server, JOBS_PATH, clients=clients, seconds=seconds, kind=client)
    finally:
        server.stop()
    return ApiLoadResult(
        status=status,
        status_identity=identity,
        jobs=listing,
        nodes=nodes,
        jobs_queued=jobs,
        client=client,
        settled=settled,
        topology=topology,
        job_rows=job_rows,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint")
    parser.add_argument("--nodes", type=int, default=1000, help="simulated nodes")
    parser.add_argument("--jobs", type=int, default=1000, help="jobs queued before the start")
    parser.add_argument(
        "--busy",
        action="store_true",
        help="load at once, while the scheduler still launches the jobs (default: after they ended)",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx", "wrk", "auto"),
        default="auto",
        help="load generator: raw (Python asyncio), httpx, wrk (Debian's wrk); auto: wrk when installed",
    )
    parser.add_argument(
        "--topology",
        choices=TOPOLOGIES,
        default="all-in-one",
        help="all-in-one: API and scheduler in one process, as scale up; split: scale api + scale scheduler",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.data_dir, args.port, args.nodes)
        return 0

    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "raw"
    print("SIMULATION: the scheduler on the sim backend; no real tasks run.", flush=True)
    print(
        f"API load: {args.clients} clients x {args.seconds:g} s per endpoint, {args.nodes} simulated nodes, "
        f"{args.jobs} jobs queued at the start ({'loaded while they run' if args.busy else 'loaded after'}), "
        f"{args.client} client, {args.topology}; "
        f"server and load generator share this machine's {os.cpu_count()} cpus",
        flush=True,
    )
    result = run_load(
        clients=args.clients,
        seconds=args.seconds,
        nodes=args.nodes,
        jobs=args.jobs,
        client=args.client,
        topology=args.topology,
        settled=not args.busy,
    )
    print(f"/v6/jobs/ lists {result.job_rows} jobs; each request asks for a page of 100")
    print(result.table())
    print(result.result_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
