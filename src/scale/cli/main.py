"""``scale``: run the embedded system, or its parts, from one command.

scale up            API + scheduler + local backend + message handlers in one process
scale api           the REST API only
scale scheduler     the scheduler (and its message handlers) only
scale db-update     bring the database to the current version
scale message-handler   apply queued command messages (one process)

and, talking to a running API (``cli/client.py``): scale status, nodes, jobs, job, submit,
cancel, requeue, logs, job-types, job-type register
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from scale import __version__
from scale.cli.client import register as register_client_commands
from scale.config import Settings
from scale.exceptions import ScaleError

if TYPE_CHECKING:
    from scale.store.db import Database

app = typer.Typer(
    help="Scale for Python: a cluster job scheduler.", no_args_is_help=True, add_completion=False
)
console = Console()

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default ./.scale)")]
Host = Annotated[str, typer.Option("--host", help="Address the API listens on")]
Port = Annotated[int, typer.Option("--port", help="Port the API listens on")]
Runtime = Annotated[
    str | None,
    typer.Option("--runtime", help="process or docker: where job types run (default: SCALE_RUNTIME)"),
]


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except ScaleError as exc:
        typer.echo(f"error: {exc}", err=True)  # one line, never wrapped: scripts read it
        raise typer.Exit(2) from exc


def _logging(settings: Settings) -> None:
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic says which migrations it ran at INFO, on every start: detail, not news.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))


def _serve(settings: Settings, api_app: Any) -> None:
    """Serve until SIGINT or SIGTERM, then return so the caller can stop what it started.

    uvicorn re-raises the signal it caught once it has shut down, which for SIGTERM kills the
    process before any clean-up runs (and would leave job processes behind); so we take the
    signals ourselves and only ask the server to exit.
    """
    import contextlib

    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    # httptools (a dependency) instead of h11: the C parser, most of the server's cost per request.
    config = uvicorn.Config(
        api_app, host=settings.host, port=settings.port, log_level="warning", lifespan="on", http="httptools"
    )
    server = _Server(config)

    def _on_signal(signum: int, _frame: Any) -> None:
        server.should_exit = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    server.run()


@app.command()
def up(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    data_dir: DataDir = None,
    nodes: Annotated[int, typer.Option("--nodes", help="Split this host into N nodes")] = 1,
    backend: Annotated[str, typer.Option("--backend", help="local or sim (a simulation)")] = "local",
    runtime: Runtime = None,
) -> None:
    """Run everything on this machine: API, scheduler, local backend, SQLite."""
    from scale.api.app import create_app
    from scale.bootstrap import build_database, build_scheduler_service, tune_gc_for_scheduler

    settings = _settings(
        host=host, port=port, data_dir=data_dir, nodes=nodes, backend=backend, runtime=runtime
    )
    _logging(settings)
    db = build_database(settings)
    service = build_scheduler_service(settings, db)
    tune_gc_for_scheduler()
    service.start(background=True)
    _print_up_banner(settings, db)
    try:
        _serve(settings, create_app(settings, db))
    finally:
        service.stop()
        db.dispose()


def _print_up_banner(settings: Settings, db: Database) -> None:
    """What a newcomer needs from ``scale up``, and nothing else: where it answers, where its
    database and data live, and a new write token for this run (printed once on a line of its
    own; only its hash is kept).

    Plain ``print``: rich may wrap or colour a line, and scripts read these verbatim.
    """
    from datetime import UTC, datetime

    from scale.services.tokens import create_token

    new = create_token(db, now=datetime.now(UTC), name="scale up")
    print(f"Scale {__version__} is up: http://{settings.host}:{settings.port}/v6/status/", flush=True)
    print(f"Database: {db.url}", flush=True)
    print(f"Data: {settings.data_dir}", flush=True)
    print(f"API token: {new.token}", flush=True)
    print("Ctrl-C stops everything.", flush=True)


@app.command()
def api(host: Host = "127.0.0.1", port: Port = 8000, data_dir: DataDir = None) -> None:
    """Run the REST API only (against --data-dir's SQLite or SCALE_DATABASE_URL)."""
    from scale.api.app import create_app
    from scale.bootstrap import build_database
    from scale.store.migrate import update_database

    settings = _settings(host=host, port=port, data_dir=data_dir)
    _logging(settings)
    db = build_database(settings)
    update_database(db)
    console.print(f"Scale API {__version__}: http://{settings.host}:{settings.port}/v6/", highlight=False)
    try:
        _serve(settings, create_app(settings, db))
    finally:
        db.dispose()


@app.command()
def scheduler(
    data_dir: DataDir = None,
    backend: Annotated[str, typer.Option("--backend", help="local, ray or sim (a simulation)")] = "local",
    nodes: Annotated[int, typer.Option("--nodes", help="Local backend: split this host into N nodes")] = 1,
    sim_nodes: Annotated[
        int, typer.Option("--sim-nodes", help="Sim backend: number of simulated nodes")
    ] = 10,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Ray backend: the cluster's GCS HOST:PORT (or SCALE_RAY_ADDRESS)"),
    ] = None,
    runtime: Runtime = None,
) -> None:
    """Run the scheduler only; stops cleanly on Ctrl-C or SIGTERM."""
    from scale.bootstrap import build_database, build_scheduler_service, tune_gc_for_scheduler

    settings = _settings(
        data_dir=data_dir,
        backend=backend,
        nodes=nodes,
        sim_nodes=sim_nodes,
        runtime=runtime,
        ray_address=ray_address,
    )
    _logging(settings)
    db = build_database(settings)
    service = build_scheduler_service(settings, db)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    tune_gc_for_scheduler()
    service.start(background=True)
    console.print(f"Scale scheduler {__version__} running on the {settings.backend} backend", highlight=False)
    try:
        stop.wait()
    finally:
        service.stop()
        db.dispose()


@app.command("db-update")
def db_update(data_dir: DataDir = None) -> None:
    """Bring the database to the current version (migrations and data); safe to repeat."""
    from scale.bootstrap import build_database
    from scale.store.migrate import update_database

    settings = _settings(data_dir=data_dir)
    db = build_database(settings)
    update_database(db)
    db.dispose()
    console.print("Database is up to date.")


@app.command("message-handler")
def message_handler(
    data_dir: DataDir = None,
    once: Annotated[bool, typer.Option("--once", help="Apply what is queued, then exit")] = False,
) -> None:
    """Apply command messages (database transport, or RabbitMQ with SCALE_BROKER_URL) until stopped."""
    from scale.bootstrap import build_database, build_transport
    from scale.messaging.worker import MessageWorker
    from scale.services.handlers import HANDLERS

    settings = _settings(data_dir=data_dir)
    _logging(settings)
    db = build_database(settings)
    worker = MessageWorker(build_transport(settings, db), HANDLERS)
    if once:
        count = worker.drain()
        worker.transport.close()
        console.print(f"Handled {count} message(s).")
        db.dispose()
        return
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.run(stop)
    db.dispose()


token_app = typer.Typer(help="API tokens: writes need one (`Authorization: Token <token>`).")
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    data_dir: DataDir = None,
    name: Annotated[str, typer.Option("--name", help="A label to tell tokens apart")] = "",
    read_only: Annotated[
        bool, typer.Option("--read-only", help="May read (when reads are closed) but never write")
    ] = False,
) -> None:
    """Create a token and print it on a line of its own; it is not shown again."""
    from datetime import UTC, datetime

    from scale.services.tokens import TokenScope, create_token

    db = _token_db(data_dir)
    try:
        scope = TokenScope.READ if read_only else TokenScope.WRITE
        new = create_token(db, now=datetime.now(UTC), name=name, scope=scope)
    except ScaleError as exc:
        typer.echo(f"error: {exc}", err=True)  # one line, never wrapped: scripts read it
        raise typer.Exit(2) from exc
    finally:
        db.dispose()
    # The token alone on stdout (TOKEN=$(scale token create)); the rest on stderr.
    Console(stderr=True).print(f"Created {scope.value} token {new.view.id}; it is not shown again.")
    print(new.token, flush=True)


@token_app.command("list")
def token_list(data_dir: DataDir = None) -> None:
    """List tokens (never the tokens themselves: only their hashes are stored)."""
    from scale.services.tokens import list_tokens

    db = _token_db(data_dir)
    try:
        views = list_tokens(db)
    finally:
        db.dispose()
    for v in views:
        used = v.last_used.isoformat() if v.last_used else "never"
        state = "revoked" if v.revoked else "active"
        console.print(
            f"{v.id}\t{v.scope.value}\t{state}\tcreated {v.created.isoformat()}\tlast used {used}\t{v.name}",
            highlight=False,
            soft_wrap=True,
        )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see `scale token list`)")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a token; requests with it get 401 from then on."""
    from scale.services.tokens import revoke_token

    db = _token_db(data_dir)
    try:
        revoke_token(db, token_id)
    except ScaleError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    console.print(f"Revoked token {token_id}.")


def _token_db(data_dir: Path | None) -> Database:
    """The database of --data-dir (or SCALE_DATABASE_URL), brought up to date first."""
    from scale.bootstrap import build_database
    from scale.store.migrate import update_database

    db = build_database(_settings(data_dir=data_dir))
    update_database(db)
    return db


user_app = typer.Typer(help="Operator accounts: sign in to the web UI (POST /v6/accounts/login/).")
app.add_typer(user_app, name="user")


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Letters, digits and @ . + - _")],
    data_dir: DataDir = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (for scripts)")
    ] = False,
) -> None:
    """Create an operator account; the password is asked for (twice) or read from stdin, and only
    its argon2 hash is stored."""
    import sys
    from datetime import UTC, datetime

    from scale.services.accounts import create_account

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    db = _token_db(data_dir)
    try:
        view = create_account(db, username=username, password=password, now=datetime.now(UTC))
    except ScaleError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        db.dispose()
    console.print(f"Created account {view.id} ({view.username}).", highlight=False)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


# The commands for people that talk to a running API: status, nodes, jobs, submit, ... (client.py).
register_client_commands(app)


def main() -> None:
    app()
