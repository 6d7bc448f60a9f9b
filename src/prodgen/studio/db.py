"""The studio's database: SQLAlchemy 2 models on SQLite (WAL), a schema version and migrations.

One file, ``<data>/studio.db``, shared by the web process and the worker processes:

- WAL mode, so readers never wait for the writer; ``busy_timeout`` so a writer waits for another
  (web and workers write at once) instead of failing.
- Write transactions start with ``BEGIN IMMEDIATE`` (``Database.write()``): a transaction that
  reads then writes (the queue bound, claiming a job) holds the write lock from its first
  statement, so two processes can never both pass the same check.
- ``schema_version`` holds one row, the number of migrations applied. ``MIGRATIONS`` lists the
  migration functions in order; opening a database applies those it lacks, each in its own
  transaction with the version bump. Migrations are frozen SQL (never ``create_all`` from the
  current models, which would make an old migration depend on new code); a test checks that the
  migrated schema matches the models below.

Alembic would be the library for a large schema; for seven tables a list of functions is
smaller than its configuration, and SQLAlchemy stays the one database library.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..errors import UserError

DB_NAME = "studio.db"
BUSY_TIMEOUT_MS = 30_000

ROLES = ("viewer", "editor", "reviewer", "admin")  # each has every right of those before it
JOB_KINDS = ("generate", "fill", "edit")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE_STATES = ("queued", "running")
ASSET_KINDS = ("upload", "csv", "generated", "edited")
REVIEW_STATES = ("pending", "approved", "rejected")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)  # stored naive, always UTC


def iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.replace(microsecond=t.microsecond // 1000 * 1000).isoformat() + "Z"


def new_id() -> str:
    """A random 16-hex-digit id (jobs, assets, exports): not guessable, not a counter."""
    return secrets.token_hex(8)


class Base(DeclarativeBase):
    pass


class SchemaVersion(Base):
    __tablename__ = "schema_version"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token; the token is never stored
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # migration 2


class BrowserSession(Base):
    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"))
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    request: Mapped[dict] = mapped_column(JSON)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_by_token: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # times a worker claimed it (2+ after a requeue)
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    worker_host: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[list] = mapped_column(JSON, default=list)


class Asset(Base):
    __tablename__ = "assets"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(20))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), nullable=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)  # order within its job
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(50))
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    review: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)  # None for uploads
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    provenance: Mapped[dict] = mapped_column(JSON, default=dict)
    fidelity: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)  # seed, condition, catalog id, source asset, ...
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Review(Base):
    """Every decision, in order; ``Asset.review`` holds the latest."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id"), index=True)
    decision: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Export(Base):
    __tablename__ = "exports"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    profile: Mapped[str] = mapped_column(String(50))
    sha256: Mapped[str] = mapped_column(String(64))  # the zip, in storage
    files: Mapped[list] = mapped_column(JSON)
    refused: Mapped[list] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


# -- migrations: frozen SQL, applied in order; never edit one that has shipped, add the next ------------------------
def _m1_initial(conn: Connection) -> None:
    for ddl in (
        "CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY)",
        """CREATE TABLE tokens (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, role VARCHAR(20) NOT NULL,
            secret_hash VARCHAR(64) NOT NULL UNIQUE, created_at DATETIME NOT NULL, created_by VARCHAR(100) NOT NULL,
            revoked_at DATETIME)""",
        """CREATE TABLE sessions (id INTEGER NOT NULL PRIMARY KEY, token_id INTEGER NOT NULL REFERENCES tokens (id),
            session_hash VARCHAR(64) NOT NULL UNIQUE, csrf VARCHAR(64) NOT NULL, created_at DATETIME NOT NULL,
            expires_at DATETIME NOT NULL)""",
        """CREATE TABLE jobs (id VARCHAR(32) NOT NULL PRIMARY KEY, kind VARCHAR(20) NOT NULL, status VARCHAR(20) NOT NULL,
            progress FLOAT NOT NULL, error TEXT, request JSON NOT NULL, model VARCHAR(200), created_by VARCHAR(100) NOT NULL,
            created_by_token INTEGER, created_at DATETIME NOT NULL, started_at DATETIME, finished_at DATETIME,
            attempts INTEGER NOT NULL, worker_pid INTEGER, worker_host VARCHAR(200), heartbeat_at DATETIME,
            cancel_requested BOOLEAN NOT NULL, notes JSON NOT NULL)""",
        "CREATE INDEX ix_jobs_status ON jobs (status)",
        """CREATE TABLE assets (id VARCHAR(32) NOT NULL PRIMARY KEY, kind VARCHAR(20) NOT NULL,
            job_id VARCHAR(32) REFERENCES jobs (id), position INTEGER NOT NULL, sha256 VARCHAR(64) NOT NULL,
            media_type VARCHAR(50) NOT NULL, width INTEGER, height INTEGER, review VARCHAR(20), reason TEXT,
            provenance JSON NOT NULL, fidelity JSON, meta JSON NOT NULL, created_by VARCHAR(100) NOT NULL,
            created_at DATETIME NOT NULL)""",
        "CREATE INDEX ix_assets_job_id ON assets (job_id)",
        """CREATE TABLE reviews (id INTEGER NOT NULL PRIMARY KEY, asset_id VARCHAR(32) NOT NULL REFERENCES assets (id),
            decision VARCHAR(20) NOT NULL, reason TEXT, reviewer VARCHAR(100) NOT NULL, at DATETIME NOT NULL)""",
        "CREATE INDEX ix_reviews_asset_id ON reviews (asset_id)",
        """CREATE TABLE exports (id VARCHAR(32) NOT NULL PRIMARY KEY, profile VARCHAR(50) NOT NULL, sha256 VARCHAR(64) NOT NULL,
            files JSON NOT NULL, refused JSON NOT NULL, created_by VARCHAR(100) NOT NULL, created_at DATETIME NOT NULL)""",
        """CREATE TABLE audit (id INTEGER NOT NULL PRIMARY KEY, at DATETIME NOT NULL, actor VARCHAR(100) NOT NULL,
            role VARCHAR(20) NOT NULL, action VARCHAR(50) NOT NULL, target VARCHAR(200), detail JSON NOT NULL)""",
        "CREATE INDEX ix_audit_at ON audit (at)",
    ):
        conn.exec_driver_sql(ddl)
    conn.exec_driver_sql("INSERT INTO schema_version (version) VALUES (0)")


def _m2_token_use_and_review_index(conn: Connection) -> None:
    """Tokens record when they were last used (the tokens page shows stale ones); the review queue gets an index."""
    conn.exec_driver_sql("ALTER TABLE tokens ADD COLUMN last_used_at DATETIME")
    conn.exec_driver_sql("CREATE INDEX ix_assets_review ON assets (review)")


MIGRATIONS: list[Callable[[Connection], None]] = [_m1_initial, _m2_token_use_and_review_index]
SCHEMA_VERSION = len(MIGRATIONS)


def _on_connect(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's own transaction handling is off)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = FULL")  # a job marked done stays done after a power cut
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate") else "BEGIN")


def schema_version(conn: Connection) -> int:
    has = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'").first()
    if not has:
        return 0
    row = conn.exec_driver_sql("SELECT version FROM schema_version").first()
    return int(row[0]) if row else 0


def migrate(engine: Engine, migrations: list[Callable[[Connection], None]] | None = None) -> tuple[int, int]:
    """Apply the migrations the database lacks; returns (version before, version after).

    Each migration runs in one IMMEDIATE transaction with its version bump, so a crash leaves the database at a
    whole version, and two processes starting at once cannot both apply one.
    """
    migrations = MIGRATIONS if migrations is None else migrations
    with engine.connect() as c:
        before = schema_version(c)
        c.rollback()
    if before > len(migrations):
        raise UserError(f"the studio database is at schema version {before}, newer than this prodgen "
                        f"(which knows {len(migrations)}); upgrade prodgen, or point --data at another folder.")
    for i in range(before, len(migrations)):
        with engine.execution_options(sqlite_immediate=True).begin() as c:
            if schema_version(c) != i:  # another process migrated meanwhile
                continue
            migrations[i](c)
            c.exec_driver_sql("UPDATE schema_version SET version = ?", (i + 1,))
    return before, len(migrations)


def make_engine(path: str | Path) -> Engine:
    engine = create_engine(f"sqlite:///{Path(path)}", pool_size=10, max_overflow=40,  # the web threadpool's 40 threads
                           connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


class Database:
    """The engine plus sessions: ``with db.read() as s`` (plain BEGIN) or ``with db.write() as s`` (BEGIN IMMEDIATE,
    committed on a clean exit, rolled back on an exception)."""

    def __init__(self, data_dir: str | Path, migrate_now: bool = True) -> None:
        self.path = Path(data_dir) / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(self.path)
        self._write_engine = self.engine.execution_options(sqlite_immediate=True)
        if migrate_now:
            migrate(self.engine)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            yield s

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        with Session(self._write_engine, expire_on_commit=False) as s, s.begin():
            yield s

    def version(self) -> int:
        with self.engine.connect() as c:
            return schema_version(c)

    def after_fork(self) -> None:
        """In a forked child: drop the parent's pooled connections without closing them under the parent."""
        self.engine.dispose(close=False)

    def close(self) -> None:
        self.engine.dispose()


def audit(s: Session, actor: str, role: str, action: str, target: str | None = None, /, **detail) -> None:
    """Add an audit entry in the caller's transaction (so it is written exactly when the action is)."""
    s.add(AuditEntry(actor=actor, role=role, action=action, target=target, detail=detail, at=utcnow()))


def check_schema(engine: Engine) -> list[str]:
    """Differences between the tables on disk and the models (empty when they match): columns missing or extra."""
    problems = []
    with engine.connect() as c:
        for table in Base.metadata.sorted_tables:
            cols = {r[1] for r in c.execute(text(f"PRAGMA table_info('{table.name}')"))}
            want = {col.name for col in table.columns}
            if want - cols:
                problems.append(f"{table.name}: missing {sorted(want - cols)}")
            if cols - want:
                problems.append(f"{table.name}: extra {sorted(cols - want)}")
    return problems


__all__ = ["ACTIVE_STATES", "ASSET_KINDS", "Asset", "AuditEntry", "Base", "BrowserSession", "Database", "Export", "JOB_KINDS",
           "JOB_STATES", "Job", "MIGRATIONS", "REVIEW_STATES", "ROLES", "Review", "SCHEMA_VERSION", "SchemaVersion", "Token",
           "audit", "check_schema", "iso", "make_engine", "migrate", "new_id", "utcnow"]
