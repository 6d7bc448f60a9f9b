"""``prodgen serve``: the studio (web page + REST API + worker processes), and its tokens.

    prodgen serve --runs runs/ --data studio/ --port 8000 --workers 1 --queue-limit 50
    prodgen serve --demo                       # trains (once) and serves the synthetic demo run
    prodgen serve token create --role reviewer --name ana --data studio/   # prints the token once
    prodgen serve token list --data studio/
    prodgen serve token revoke 3 --data studio/

``cli.py`` imports this module once; it adds ``serve`` to the ``prodgen`` command (also when run as
``python -m prodgen.cli``). Heavy imports (FastAPI, uvicorn, torch) happen only when a command runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .errors import UserError

serve_app = typer.Typer(no_args_is_help=False, invoke_without_command=True,
                        help="The studio: web page and REST API to request, review and export images.")
token_app = typer.Typer(no_args_is_help=True, help="Access tokens of the studio (stored hashed; shown once).")
serve_app.add_typer(token_app, name="token")
console = Console(stderr=True)
out_console = Console()

DataOpt = Annotated[Path, typer.Option("--data", help="the studio's folder (database, files, signing keys)")]
ROLES = ("viewer", "editor", "reviewer", "admin")


def _settings(runs: Path, data: Path, **kw):
    from .studio.settings import StudioSettings

    return StudioSettings(runs=runs, data=data, **kw)


def _db(data: Path):
    from .studio.db import Database

    if data.exists() and not data.is_dir():
        raise UserError(f"--data {data} is a file; give the studio's folder")
    return Database(data)


@contextlib.contextmanager
def _serve_lock(data: Path):
    """One ``serve`` per data folder: two would each requeue the other's running jobs."""
    import fcntl  # POSIX only, like huey's process workers (fork)

    data.mkdir(parents=True, exist_ok=True)
    fh = open(data / "serve.lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise UserError(f"another `prodgen serve` is using --data {data}; stop it first, or give this one another --data "
                        "folder") from None
    try:
        yield
    finally:
        fh.close()


def _demo_run(runs: Path) -> Path:
    run = runs / "demo"
    if (run / "model.safetensors").is_file() and (run / "vocab.json").is_file():
        return run
    from .demo import run_demo

    console.print(f"[bold]--demo:[/] no demo run in {run}; training one on the synthetic catalog (about 3 minutes, once)")
    run_demo(run, minutes=3.0, progress=True, console=console, eval_every=0)
    return run


def _start_workers(settings, log_path: Path) -> subprocess.Popen | None:
    if settings.workers < 1:
        return None
    cmd = [sys.executable, "-m", "prodgen.studio.worker", "--runs", str(settings.runs), "--data", str(settings.data),
           "--workers", str(settings.workers), "--device", settings.device, "--parent-pid", str(os.getpid())]
    if settings.keys:
        cmd += ["--keys", str(settings.keys)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_fh = open(log_path, "a")
    # Its own process group: a terminal's Ctrl-C reaches serve alone, which then stops the workers gracefully once.
    return subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, start_new_session=True)


def _stop_workers(proc: subprocess.Popen | None, grace_s: float = 30.0) -> None:
    """SIGINT: huey's graceful stop (running jobs finish); then SIGTERM (jobs interrupted go back to the queue)."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    proc.wait()


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signal.SIGTERM)


@serve_app.callback()
def serve(
    ctx: typer.Context,
    runs: Annotated[Path, typer.Option(help="folder of run folders: each trained run in it is a model")] = Path("runs"),
    data: DataOpt = Path("studio"),
    host: Annotated[str, typer.Option(help="address to listen on (0.0.0.0: every interface; put https in front)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=0, max=64, help="worker processes running jobs (0: jobs wait)")] = 1,
    queue_limit: Annotated[int, typer.Option(min=1, help="queued jobs before new requests get 429")] = 50,
    device: Annotated[str, typer.Option(help="torch device of the workers: cpu, cuda, auto")] = "cpu",
    keys: Annotated[Path | None, typer.Option(help="signing key folder (default: DATA/keys, created at first start)")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="serve the synthetic demo run (trained once, ~3 min)")] = False,
) -> None:
    """Start the studio: web page at /, REST API under /api, OpenAPI docs at /docs, worker processes for jobs."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from .studio.app import create_app
    from .studio.db import Token

    if demo:
        runs.mkdir(parents=True, exist_ok=True)
        _demo_run(runs)
    settings = _settings(runs, data, workers=workers, queue_limit=queue_limit, device=device, keys=keys)
    with _serve_lock(data):
        db = _db(data)
        from .provenance import ensure_keys

        k = ensure_keys(settings.key_dir)
        console.print(f"signing key: {settings.key_dir} ({k.signer_name})")
        with db.read() as s:
            has_admin = s.query(Token).filter(Token.role == "admin", Token.revoked_at.is_(None)).count() > 0
        if not has_admin:
            if demo:
                from .studio.auth import create_token

                _, secret = create_token(db, "demo-admin", "admin", "prodgen serve --demo")
                console.print(f"[bold]demo admin token[/] (shown once, log in with it): {secret}", soft_wrap=True,
                              highlight=False)
            else:
                console.print(f"[yellow]no admin token yet:[/] make one with `prodgen serve token create --role admin "
                              f"--name YOU --data {data}`", soft_wrap=True)
        app = create_app(settings)
        _collect_garbage(app.state.studio.db, app.state.studio.storage, settings.tmp_dir, quiet=True)
        models = [p.name for p in runs.iterdir() if p.is_dir()] if runs.is_dir() else []
        console.print(f"studio on http://{host}:{port}/ (API /api, docs /docs); {len(models)} folder(s) in {runs}; "
                      f"{workers} worker process(es); data in {data}", soft_wrap=True)
        # uvicorn handles SIGTERM itself, then re-raises it after restoring the previous handler: with the default one
        # serve would die there and orphan its workers; this one unwinds through `finally`, which stops them.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        proc = _start_workers(settings, data / "logs" / "workers.log")
        try:
            # keep-alive 75 s (uvicorn: 5): longer than browsers' and proxies' idle timeouts, so the client closes an idle
            # connection first; a server-side close races a request sent on it (the client sees a dropped connection)
            uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True, timeout_keep_alive=75)
        finally:
            _stop_workers(proc)


def _collect_garbage(db, storage, tmp_dir: Path, quiet: bool = False, dry_run: bool = False,
                     grace_minutes: float = 60.0) -> None:
    import datetime as dt

    from .studio.cleanup import collect_garbage

    report = collect_garbage(db, storage, tmp_dir, dt.timedelta(minutes=grace_minutes), dry_run)
    if report.removed or not quiet:
        console.print(f"store: {report.summary(dry_run)}", soft_wrap=True)


@serve_app.command("gc")
def serve_gc(
    data: DataOpt = Path("studio"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would be removed; remove nothing")] = False,
    grace_minutes: Annotated[float, typer.Option(min=0, help="leave unreferenced files younger than this alone "
                                                            "(a running job's outputs have no row yet)")] = 60.0,
) -> None:
    """Remove stored files no asset, export or review row refers to (left by failed, cancelled or killed jobs).

    Safe beside a running `prodgen serve`: files younger than --grace-minutes are left alone."""
    from .studio.db import DB_NAME
    from .studio.storage import Storage

    if not (data / DB_NAME).exists():
        raise UserError(f"{data} holds no studio database ({DB_NAME}); give the --data folder of `prodgen serve`")
    _collect_garbage(_db(data), Storage(data), data / "tmp", dry_run=dry_run,  # StudioSettings.tmp_dir
                     grace_minutes=grace_minutes)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="viewer, editor, reviewer or admin")],
    name: Annotated[str, typer.Option(help="who holds it (shown in the audit log)")],
    data: DataOpt = Path("studio"),
) -> None:
    """Make a token and print it once (only its hash is stored)."""
    from .studio.auth import create_token

    if role not in ROLES:
        raise typer.BadParameter(f"{role!r} is not a role; use one of {', '.join(ROLES)}", param_hint="--role")
    try:
        tok, secret = create_token(_db(data), name, role, f"cli:{os.environ.get('USER', 'local')}")
    except ValueError as e:
        raise UserError(str(e)) from None
    console.print(f"token {tok.id} for {tok.name} ({tok.role}); shown once, store it now:", soft_wrap=True)
    out_console.print(secret, highlight=False, soft_wrap=True)


@token_app.command("list")
def token_list(data: DataOpt = Path("studio")) -> None:
    """List tokens (never the secrets)."""
    from .studio.auth import list_tokens
    from .studio.db import iso

    t = Table("id", "name", "role", "created", "last used", "revoked")
    for tok in list_tokens(_db(data)):
        t.add_row(str(tok.id), tok.name, tok.role, iso(tok.created_at) or "", iso(tok.last_used_at) or "-",
                  iso(tok.revoked_at) or "-")
    out_console.print(t)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="the token's id (prodgen serve token list)")],
                 data: DataOpt = Path("studio")) -> None:
    """Revoke a token: its API calls and browser sessions stop working at once."""
    from .studio.auth import revoke_token

    tok = revoke_token(_db(data), token_id, f"cli:{os.environ.get('USER', 'local')}")
    if tok is None:
        raise UserError(f"no token {token_id} in {data}; see `prodgen serve token list --data {data}`")
    console.print(f"token {tok.id} ({tok.name}, {tok.role}) revoked")


def _register() -> None:
    """Add ``serve`` to the prodgen command that is importing this module (``prodgen.cli`` or ``python -m prodgen.cli``)."""
    for mod in (sys.modules.get("prodgen.cli"), sys.modules.get("__main__")):
        spec = getattr(mod, "__spec__", None)
        app = getattr(mod, "app", None)
        if spec is not None and spec.name == "prodgen.cli" and isinstance(app, typer.Typer):
            if not any(g.name == "serve" for g in app.registered_groups):
                app.add_typer(serve_app, name="serve")


_register()

__all__ = ["serve_app", "token_app"]
