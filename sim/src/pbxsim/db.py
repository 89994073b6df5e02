"""The database: one engine, short explicit transactions, schema created on start.

SQLite is used from several threads at once (FastAPI's threadpool for sync routes, the job
runner's worker thread, the SMTP server's thread), so for SQLite we:

- share connections across threads (``check_same_thread=False``; each transaction still holds one
  connection from the pool at a time);
- use WAL, so readers never wait for the writer, and a busy timeout so writers queue instead of
  failing;
- start every writing transaction with ``BEGIN IMMEDIATE``: a deferred transaction that reads and
  then writes can fail at once with "database is locked" when another writer got in between;
  taking the write lock up front makes writers wait their turn (transactions here are
  milliseconds);
- start read-only transactions (``Database.reading``: the GET routes) with a plain ``BEGIN``, so
  under WAL they read a snapshot without queueing behind the writers. Taking the write lock for
  reads too made every request of a busy platform wait in one line (the repository's
  docs/benchmarks.md, section 1).

Any other SQLAlchemy URL (e.g. Postgres) is used as is.

The busiest paths (the idempotency store, tenants and their jobs, the mailbox, the job runner's
tick) use ``Database.connection``/``Database.reading_connection``: the same transactions on a
Core connection, without an ORM session, whose bookkeeping cost more CPU than their statements.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

# Importing a models module registers its tables on Base.metadata, for create_all and reset.
from pbxsim.helpdesk import models as helpdesk_models  # noqa: F401
from pbxsim.mailbox import models as mailbox_models  # noqa: F401
from pbxsim.mobile import models as mobile_models  # noqa: F401
from pbxsim.models import Base
from pbxsim.numbers import models as numbers_models  # noqa: F401
from pbxsim.pbx import deletion_models  # noqa: F401
from pbxsim.pbx import models as pbx_models  # noqa: F401
from pbxsim.provisioning import models as provisioning_models  # noqa: F401

_BUSY_TIMEOUT_MS = 10_000
_READ_ONLY = "pbxops_read_only"


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _configure_sqlite(engine: Engine, *, file_backed: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below emit BEGIN instead of the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if file_backed:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_db_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    path = _sqlite_file(url)
    if path is None:
        # In-memory: one shared connection, or every thread would see its own empty database.
        engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": _BUSY_TIMEOUT_MS / 1000},
        )
    _configure_sqlite(engine, file_backed=path is not None)
    return engine


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        # expire_on_commit=False: routes build their answer from objects after the commit.
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine = self.engine.execution_options(**{_READ_ONLY: True})
        self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)

    @property
    def safe_url(self) -> str:
        """The URL for logs: never a password."""
        return make_url(self.url).render_as_string(hide_password=True)

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)
        # create_all never alters an existing table: an index added since the file was created
        # is added here.
        for table in Base.metadata.sorted_tables:
            for index in table.indexes:
                index.create(self.engine, checkfirst=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One short transaction: committed when the block ends, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction: a consistent snapshot that never waits for the writers."""
        with self._read_sessions.begin() as session:
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """``transaction`` on a Core connection: committed when the block ends."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def reading_connection(self) -> Iterator[Connection]:
        """``reading`` on a Core connection: a snapshot that never waits for the writers."""
        with self._read_engine.begin() as connection:
            yield connection

    def reset(self) -> None:
        with self.transaction() as session:
            # Children before parents; covers every table any area of the simulator registered.
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(table.delete())

    def dispose(self) -> None:
        self.engine.dispose()
