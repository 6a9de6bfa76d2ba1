"""``scale`` for people: commands that talk to a running API over HTTP (``main.py`` has the servers).

scale status                     scheduler, services, nodes with resources and job counts, totals
scale nodes [pause|resume|deprecate NODE]
scale jobs [filters]             scale job ID
scale submit JOB_TYPE [--input NAME=VALUE ...] [--wait]
scale cancel JOB_ID ...          scale requeue JOB_ID ...
scale logs EXECUTION [--follow]
scale job-types                  scale job-type register MANIFEST.json

Every command takes ``--url`` (``SCALE_URL``, default ``http://127.0.0.1:8000``), ``--token``
(``SCALE_TOKEN``, needed for writes) and ``--json`` (the API's JSON on stdout, for scripts).
An error from the API is printed as one line on stderr (``error: 401: Authorization: ...``) and
the command exits with 1; a server that cannot be reached exits with 3.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

#: exit codes: the API refused or failed the request; the server could not be reached
EXIT_API_ERROR = 1
EXIT_UNREACHABLE = 3
FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELED"})
DEFAULT_URL = "http://127.0.0.1:8000"

Url = Annotated[str, typer.Option("--url", envvar="SCALE_URL", help="The API's base URL")]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="SCALE_TOKEN", help="API token (writes need one)", show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON (for scripts)")]


class ApiError(Exception):
    """A request that failed; ``str`` is the one line shown to the user."""

    def __init__(self, message: str, exit_code: int = EXIT_API_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Api:
    """A small client of the v6 API: one line of error text for anything that is not a 2xx."""

    url: str
    token: str | None
    timeout: float = 30.0

    @contextmanager
    def _client(self) -> Iterator[httpx.Client]:
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        with httpx.Client(base_url=self.url.rstrip("/"), headers=headers, timeout=self.timeout) as client:
            yield client

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            with self._client() as client:
                response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach {self.url}: {exc}", EXIT_UNREACHABLE) from exc
        if response.status_code >= 400:
            raise ApiError(f"{response.status_code}: {_detail(response)}")
        return response

    def get(self, path: str, **params: Any) -> Any:
        response = self.request("GET", path, params={k: v for k, v in params.items() if v is not None})
        return response.json() if response.status_code == 200 and response.content else None

    def send(self, method: str, path: str, body: Any) -> Any:
        response = self.request(method, path, json=body)
        return response.json() if response.content else None

    def all_pages(self, path: str, **params: Any) -> list[Any]:
        results: list[Any] = []
        page = 1
        while True:
            data = self.get(path, page=page, page_size=1000, **params)
            results.extend(data["results"])
            if not data.get("next"):
                return results
            page += 1


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return response.reason_phrase or "request failed"


def _out() -> Console:
    return Console(soft_wrap=False, highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def _fail(exc: ApiError) -> NoReturn:
    _err().print(Text(f"error: {exc}"), soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


@contextmanager
def _api_errors() -> Iterator[None]:
    try:
        yield
    except ApiError as exc:
        _fail(exc)


# ---------------------------------------------------------------------------- rendering helpers


RESOURCE_TITLES = {"cpus": "CPUs", "mem": "Mem", "disk": "Disk", "gpus": "GPUs"}


def bar(used: float, total: float, width: int = 8) -> Text:
    """A text bar of ``used`` out of ``total`` (``█████░░░░░ 50%``)."""
    share = 0.0 if total <= 0 else max(0.0, min(1.0, used / total))
    filled = round(share * width)
    text = Text("█" * filled, style="cyan")
    text.append("░" * (width - filled), style="dim")
    text.append(f" {share * 100:3.0f}%")
    return text


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"


STATE_STYLE = {
    "READY": "green",
    "PAUSED": "yellow",
    "SCHEDULER_STOPPED": "yellow",
    "DEGRADED": "red",
    "OFFLINE": "dim",
    "DEPRECATED": "dim",
    "INITIAL_CLEANUP": "blue",
    "IMAGE_PULL": "blue",
    "COMPLETED": "green",
    "FAILED": "red",
    "RUNNING": "cyan",
    "QUEUED": "yellow",
    "CANCELED": "dim",
}


def _styled(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, ""))


def _ago(iso: str | None) -> str:
    if not iso:
        return ""
    from datetime import UTC, datetime

    seconds = max(
        0, int((datetime.now(UTC) - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds())
    )
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60}s"
    return f"{seconds}s"


# ---------------------------------------------------------------------------- status


def status(url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """The cluster at a glance: scheduler, services, every node with its resources and job counts."""
    api = Api(url, token)
    with _api_errors():
        document = api.get("/v6/status/")
        if document is None:
            raise ApiError("the scheduler is offline (no status in the last 12 seconds)")
        summary = api.get("/dashboard/api/summary/")
    if as_json:
        _print_json(document)
        return
    render_status(_out(), document, summary)


def render_status(console: Console, document: Mapping[str, Any], summary: Mapping[str, Any] | None) -> None:
    scheduler = document["scheduler"]
    state = scheduler["state"]
    line = Text("Scheduler ")
    line.append(state["title"], style=STATE_STYLE.get(state["name"], "bold"))
    line.append(f"  on {scheduler['hostname']}   status at {document['timestamp']}")
    console.print(line)
    for warning in scheduler.get("warnings", []):
        console.print(
            Text(
                f"  warning: {warning.get('title') or warning.get('name')}: {warning.get('description', '')}",
                style="yellow",
            )
        )
    services = ", ".join(
        f"{s['title']} {s['actual_count']}/{s['desired_count']}" for s in document["system"]["services"]
    )
    update = document["system"]["database_update"]
    console.print(
        Text(f"Services: {services}   Database update: {'done' if update['is_completed'] else 'running'}")
    )
    # GPUs only where the cluster has some: a column of empty bars says nothing.
    totals = document["resources"]
    kinds = [r for r in ("cpus", "mem", "disk", "gpus") if r != "gpus" or totals["gpus"]["total"] > 0]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    counts = ("Run", "Done 3h", "Failed 3h")
    for column in ("Node", "State", *(RESOURCE_TITLES[r] for r in kinds), *counts):
        table.add_column(column, no_wrap=True, justify="right" if column in counts else "left")
    for node in document["nodes"]:
        res = node["resources"]
        exes = node["job_executions"]
        problems = [c.get("title") or c.get("name") for c in (*node["errors"], *node["warnings"])]
        state_text = _styled(node["state"]["name"])
        if problems:
            state_text.append(" (" + ", ".join(str(p) for p in problems) + ")", style="red")
        table.add_row(
            Text(node["hostname"]),
            state_text,
            *(bar(res[r]["running"], res[r]["total"]) for r in kinds),
            str(exes["running"]["total"]),
            str(exes["completed"]["total"]),
            str(exes["failed"]["total"]),
        )
    table.add_section()
    table.add_row(
        Text(f"{len(document['nodes'])} nodes", style="bold"),
        "",
        *(Text(f"{_num(totals[r]['running'])}/{_num(totals[r]['total'])}") for r in kinds),
        str(sum(n["job_executions"]["running"]["total"] for n in document["nodes"])),
        str(sum(n["job_executions"]["completed"]["total"] for n in document["nodes"])),
        str(sum(n["job_executions"]["failed"]["total"] for n in document["nodes"])),
    )
    console.print(table)
    rates = scheduler["metrics"]
    console.print(
        Text(
            f"Per second: {rates['jobs_launched_per_sec']:g} jobs launched, "
            f"{rates['jobs_finished_per_sec']:g} finished, {rates['tasks_launched_per_sec']:g} tasks launched"
        )
    )
    if summary is not None:
        counts = summary["job_counts"]
        console.print(Text("Jobs: " + ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n)))
        for q in summary["queue"]:
            reasons = ", ".join(f"{r} ({n})" for r, n in q["reasons"].items()) or "not yet considered"
            console.print(
                Text(f"  queued {q['count']} {q['job_type']['name']} {q['job_type']['version']}: {reasons}")
            )


# ---------------------------------------------------------------------------- nodes

nodes_app = typer.Typer(help="Nodes: list them, pause, resume or deprecate one.", invoke_without_command=True)


def _node_rows(api: Api) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = api.all_pages("/v6/nodes/")
    document = api.get("/v6/status/")
    states = {n["id"]: n["state"]["name"] for n in document["nodes"]} if document else {}
    for row in rows:
        row["state"] = states.get(row["id"])
    return rows


@nodes_app.callback()
def nodes(ctx: typer.Context, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """List the nodes with their state (from the status) and pause settings."""
    if ctx.invoked_subcommand is not None:
        return
    with _api_errors():
        rows = _node_rows(Api(url, token))
    if as_json:
        _print_json(rows)
        return
    table = Table("ID", "Hostname", "State", "Active", "Paused", "Pause reason")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["hostname"],
            _styled(row["state"] or "unknown"),
            "yes" if row["is_active"] else "no",
            "yes" if row["is_paused"] else "no",
            Text(row["pause_reason"] or ""),
        )
    _out().print(table)


def _node_id(api: Api, node: str) -> int:
    """A node by id or hostname."""
    if node.isdigit():
        return int(node)
    for row in api.all_pages("/v6/nodes/"):
        if row["hostname"] == node:
            return int(row["id"])
    raise ApiError(f"node: no node is called {node!r}")


NodeArg = Annotated[str, typer.Argument(help="The node's id or hostname")]


def _patch_node(
    url: str, token: str | None, node: str, body: dict[str, Any], done: str, as_json: bool
) -> None:
    api = Api(url, token)
    with _api_errors():
        node_id = _node_id(api, node)
        api.send("PATCH", f"/v6/nodes/{node_id}/", body)
        row = api.get(f"/v6/nodes/{node_id}/")
    if as_json:
        _print_json(row)
    else:
        _out().print(Text(f"{done} node {node_id} ({row['hostname']})."))


@nodes_app.command("pause")
def node_pause(
    node: NodeArg,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (shown with the node)")] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Pause a node: no new jobs are scheduled on it; running ones go on."""
    body: dict[str, Any] = {"is_paused": True}
    if reason is not None:
        body["pause_reason"] = reason
    _patch_node(url, token, node, body, "Paused", as_json)


@nodes_app.command("resume")
def node_resume(node: NodeArg, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """Resume a paused node."""
    _patch_node(url, token, node, {"is_paused": False}, "Resumed", as_json)


@nodes_app.command("deprecate")
def node_deprecate(
    node: NodeArg, url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False
) -> None:
    """Deprecate a node: Scale stops using it."""
    _patch_node(url, token, node, {"is_active": False}, "Deprecated", as_json)


# ---------------------------------------------------------------------------- jobs


def jobs(
    status_: Annotated[list[str] | None, typer.Option("--status", help="Job status (repeatable)")] = None,
    job_type_id: Annotated[
        list[int] | None, typer.Option("--job-type-id", help="Job type id (repeatable)")
    ] = None,
    job_type_name: Annotated[str | None, typer.Option("--job-type-name")] = None,
    error_category: Annotated[
        str | None, typer.Option("--error-category", help="SYSTEM, ALGORITHM or DATA")
    ] = None,
    node_id: Annotated[int | None, typer.Option("--node-id")] = None,
    started: Annotated[
        str | None, typer.Option("--started", help="Modified since: datetime or duration (PT1H)")
    ] = None,
    ended: Annotated[str | None, typer.Option("--ended", help="Modified until: datetime or duration")] = None,
    order: Annotated[list[str] | None, typer.Option("--order", help="Field, -field for descending")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-1000)")] = 25,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """List jobs, newest change first, with the API's filters."""
    api = Api(url, token)
    with _api_errors():
        page = api.get(
            "/v6/jobs/",
            status=[s.upper() for s in status_] if status_ else None,
            job_type_id=job_type_id or None,
            job_type_name=job_type_name,
            error_category=error_category.upper() if error_category else None,
            node_id=node_id,
            started=started,
            ended=ended,
            order=order or None,
            page_size=limit,
        )
    if as_json:
        _print_json(page)
        return
    table = Table("ID", "Job type", "Status", "Tries", "Node", "Error", "Last change")
    for job in page["results"]:
        table.add_row(
            str(job["id"]),
            Text(f"{job['job_type']['name']} {job['job_type']['version']}"),
            _styled(job["status"]),
            f"{job['num_exes']}/{job['max_tries']}",
            Text(job["node"]["hostname"] if job["node"] else ""),
            Text(job["error"]["name"] if job["error"] else ""),
            _ago(job["last_status_change"] or job["last_modified"]) + " ago",
        )
    console = _out()
    console.print(table)
    console.print(Text(f"{len(page['results'])} of {page['count']} jobs"))


def job(
    job_id: Annotated[int, typer.Argument(help="The job's id")],
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """One job: its status, input, why it waits (when queued), and its executions."""
    api = Api(url, token)
    with _api_errors():
        detail = api.get(f"/v6/jobs/{job_id}/")
        executions = api.get(f"/v6/jobs/{job_id}/executions/", page_size=100)["results"]
    if as_json:
        _print_json({"job": detail, "executions": executions})
        return
    console = _out()
    head = Text(f"Job {detail['id']}  {detail['job_type']['name']} {detail['job_type']['version']}  ")
    head.append_text(_styled(detail["status"]))
    console.print(head)
    console.print(Text(f"Tries {detail['num_exes']}/{detail['max_tries']}   priority {detail['priority']}"))
    if detail.get("error"):
        error = detail["error"]
        console.print(
            Text(
                f"Error: {error['name']} ({error['category']}): {error.get('description') or ''}", style="red"
            )
        )
    if detail.get("queue_reasons"):
        console.print(
            Text("Waiting: " + ", ".join(f"{r} ({n} nodes)" for r, n in detail["queue_reasons"].items()))
        )
    if executions:
        table = Table("Exe", "ID", "Status", "Node", "Started", "Ended", "Exit", "Error")
        for exe in executions:
            table.add_row(
                str(exe["exe_num"]),
                str(exe["id"]),
                _styled(exe["status"]),
                Text(exe["node"]["hostname"] if exe["node"] else ""),
                exe["started"] or "",
                exe["ended"] or "",
                "" if exe["exit_code"] is None else str(exe["exit_code"]),
                Text(exe["error"]["name"] if exe["error"] else ""),
            )
        console.print(table)


def _job_type(api: Api, ref: str) -> dict[str, Any]:
    """A job type by id, ``name`` (its newest version) or ``name:version``."""
    if ref.isdigit():
        found = api.get("/v6/job-types/", id=int(ref))["results"]
        if not found:
            raise ApiError(f"job type: no job type has id {ref}")
        summary = found[0]
    else:
        name, _, version = ref.partition(":")
        versions = api.all_pages(f"/v6/job-types/{name}/")
        if version:
            versions = [v for v in versions if v["version"] == version]
            if not versions:
                raise ApiError(f"job type: {name} has no version {version}")
        summary = max(versions, key=lambda v: int(v["id"]))
    detail: dict[str, Any] = api.get(f"/v6/job-types/{summary['name']}/{summary['version']}/")
    return detail


def _inputs(job_type: Mapping[str, Any], pairs: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs as the job's JSON input: a ``string`` input keeps VALUE as text, any
    other type reads VALUE as JSON (``3``, ``true``, ``[1, 2]``)."""
    declared = {
        str(i["name"]): str(i.get("type", "string"))
        for i in job_type.get("manifest", {})
        .get("job", {})
        .get("interface", {})
        .get("inputs", {})
        .get("json", [])
    }
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise ApiError(f"--input: {pair!r} is not NAME=VALUE")
        if declared.get(name, "string") == "string":
            values[name] = raw
            continue
        try:
            values[name] = json.loads(raw)
        except ValueError:
            raise ApiError(f"--input: {name}: {raw!r} is not a JSON {declared[name]}") from None
    return values


def submit(
    job_type: Annotated[str, typer.Argument(help="Job type: id, name (newest version) or name:version")],
    inputs: Annotated[list[str] | None, typer.Option("--input", "-i", help="NAME=VALUE (repeatable)")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Show progress until the job ends; exit 1 unless it completed")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="With --wait: give up after this many seconds")
    ] = 3600.0,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Queue a job; with --wait, follow it until it ends."""
    api = Api(url, token)
    with _api_errors():
        found = _job_type(api, job_type)
        body = {"job_type_id": found["id"], "input": {"json": _inputs(found, inputs or [])}}
        created = api.send("POST", "/v6/jobs/", body)
        if wait:
            created = _wait_for(api, int(created["id"]), timeout, quiet=as_json)
    if as_json:
        _print_json(created)
    else:
        line = Text(f"Job {created['id']} ({found['name']} {found['version']}): ")
        line.append_text(_styled(created["status"]))
        _out().print(line)
    if wait and created["status"] != "COMPLETED":
        raise typer.Exit(EXIT_API_ERROR)


def _wait_for(api: Api, job_id: int, timeout: float, *, quiet: bool) -> dict[str, Any]:
    """Poll the job until it reaches a final status, with a live line on stderr."""
    deadline = time.monotonic() + timeout
    console = _err()
    with console.status(f"job {job_id}: submitted", spinner="dots") as live:
        while True:
            detail: dict[str, Any] = api.get(f"/v6/jobs/{job_id}/")
            node = detail["node"]["hostname"] if detail.get("node") else ""
            reasons = ", ".join(detail.get("queue_reasons") or {})
            text = f"job {job_id}: {detail['status']}  try {detail['num_exes']}/{detail['max_tries']}"
            text += f" on {node}" if node and detail["status"] == "RUNNING" else ""
            text += f"  waiting: {reasons}" if reasons and detail["status"] == "QUEUED" else ""
            if not quiet:
                live.update(Text(text))
            if detail["status"] in FINAL_STATUSES:
                return detail
            if time.monotonic() > deadline:
                raise ApiError(f"job {job_id} is still {detail['status']} after {timeout:g}s")
            time.sleep(0.5)


IdsArg = Annotated[list[int] | None, typer.Argument(help="Job ids", show_default=False)]


def _selection(
    ids: list[int] | None, statuses: list[str] | None, job_type_name: str | None, every: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if ids:
        body["job_ids"] = ids
    if statuses:
        body["status"] = [s.upper() for s in statuses]
    if job_type_name:
        body["job_type_names"] = [job_type_name]
    if not body and not every:
        raise ApiError("select jobs: give job ids, --status or --job-type-name (or --all for every job)")
    return body


SelStatus = Annotated[
    list[str] | None, typer.Option("--status", help="Only jobs in this status (repeatable)")
]
SelType = Annotated[str | None, typer.Option("--job-type-name", help="Only jobs of this job type")]
SelAll = Annotated[bool, typer.Option("--all", help="Select every job (no other filter)")]


def cancel(
    job_ids: IdsArg = None,
    status_: SelStatus = None,
    job_type_name: SelType = None,
    every: SelAll = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Cancel jobs: queued ones leave the queue, running ones are killed."""
    _select_action(
        "/v6/jobs/cancel/", "Cancel", _body(job_ids, status_, job_type_name, every), url, token, as_json
    )


def requeue(
    job_ids: IdsArg = None,
    status_: SelStatus = None,
    job_type_name: SelType = None,
    every: SelAll = False,
    priority: Annotated[
        int | None, typer.Option("--priority", help="A new priority (lower runs first)")
    ] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Queue failed and canceled jobs again."""
    body = _body(job_ids, status_, job_type_name, every)
    if priority is not None:
        body["priority"] = priority
    _select_action("/v6/jobs/requeue/", "Requeue", body, url, token, as_json)


def _body(ids: list[int] | None, statuses: list[str] | None, name: str | None, every: bool) -> dict[str, Any]:
    with _api_errors():
        return _selection(ids, statuses, name, every)


def _select_action(
    path: str, verb: str, body: dict[str, Any], url: str, token: str | None, as_json: bool
) -> None:
    with _api_errors():
        Api(url, token).send("POST", path, body)
    if as_json:
        _print_json({"accepted": True, "selection": body})
    else:
        _out().print(Text(f"{verb} accepted for {json.dumps(body)}."))


# ---------------------------------------------------------------------------- logs


def logs(
    execution: Annotated[int, typer.Argument(help="The execution's id (see `scale job ID`)")],
    stream: Annotated[str, typer.Option("--stream", help="stdout, stderr or combined")] = "combined",
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the execution ends")
    ] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """An execution's task output (pre, main and post)."""
    api = Api(url, token)
    path = f"/v6/job-executions/{execution}/logs/{stream}/"
    with _api_errors():
        if not follow:
            text = api.request("GET", path).text
            if as_json:
                _print_json({"execution": execution, "stream": stream, "text": text})
            else:
                print(text, end="" if text.endswith("\n") else "\n")
            return
        _follow(api, execution, path)


def _follow(api: Api, execution: int, path: str) -> None:
    """Print the logs as they grow until the execution has ended (then one last read)."""
    shown = ""
    while True:
        state = api.get(f"/dashboard/api/executions/{execution}/")
        try:
            text = api.request("GET", path).text
        except ApiError:
            text = shown  # no log files yet
        if text.startswith(shown):
            print(text[len(shown) :], end="", flush=True)
        else:  # sections were rewritten (stdout grew before stderr): show it all again
            print("\n" + text, end="", flush=True)
        shown = text
        if state["ended"] is not None:
            if shown and not shown.endswith("\n"):
                print()
            return
        time.sleep(1.0)


# ---------------------------------------------------------------------------- job types


def job_types(url: Url = DEFAULT_URL, token: Token = None, as_json: AsJson = False) -> None:
    """List the job types."""
    with _api_errors():
        rows = Api(url, token).all_pages("/v6/job-types/")
    if as_json:
        _print_json(rows)
        return
    table = Table("ID", "Name", "Version", "Title", "Active", "Paused", "System")
    for row in rows:
        table.add_row(
            str(row["id"]),
            Text(row["name"]),
            Text(row["version"]),
            Text(row.get("title") or ""),
            "yes" if row.get("is_active") else "no",
            "yes" if row.get("is_paused") else "no",
            "yes" if row.get("is_system") else "no",
        )
    _out().print(table)


job_type_app = typer.Typer(help="Job types: register one from a manifest.")


@job_type_app.command("register")
def job_type_register(
    manifest: Annotated[
        Path, typer.Argument(help="A Seed manifest, or a job type body {docker_image, manifest, ...}")
    ],
    docker_image: Annotated[str, typer.Option("--docker-image", help="With a bare manifest: the image")] = "",
    url: Url = DEFAULT_URL,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Register a job type (POST /v6/job-types/); a new version of a name adds a version."""
    with _api_errors():
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            raise ApiError(f"{manifest}: cannot read a JSON manifest: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(f"{manifest}: must hold a JSON object")
        body = data if "manifest" in data else {"docker_image": docker_image, "manifest": data}
        created = Api(url, token).send("POST", "/v6/job-types/", body)
    if as_json:
        _print_json(created)
    else:
        _out().print(Text(f"Registered job type {created['id']}: {created['name']} {created['version']}."))


def register(app: typer.Typer) -> None:
    """Add these commands to ``scale`` (main.py's app)."""
    app.command("status")(status)
    app.add_typer(nodes_app, name="nodes")
    app.command("jobs")(jobs)
    app.command("job")(job)
    app.command("submit")(submit)
    app.command("cancel")(cancel)
    app.command("requeue")(requeue)
    app.command("logs")(logs)
    app.command("job-types")(job_types)
    app.add_typer(job_type_app, name="job-type")
