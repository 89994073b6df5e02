"""The simulator's SQLite transactions: readers never queue behind a writer."""

import threading
from pathlib import Path

from pbxsim.db import Database
from pbxsim.pbx.models import Tenant
from sqlalchemy import select


def _database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'platform.db'}")
    db.create_schema()
    return db


def test_a_reader_is_not_blocked_by_a_writer_holding_the_lock(tmp_path: Path) -> None:
    db = _database(tmp_path)
    writer_has_lock = threading.Event()
    reader_done = threading.Event()
    read: list[list[str]] = []

    def writer() -> None:
        with db.transaction() as session:
            # BEGIN IMMEDIATE: the write lock is held from here until the block ends.
            session.execute(select(Tenant.id)).all()
            writer_has_lock.set()
            # Keep the lock until the reader has finished (or give up: the test then fails).
            reader_done.wait(timeout=20)

    def reader() -> None:
        writer_has_lock.wait(timeout=20)
        with db.reading() as session:
            read.append(list(session.scalars(select(Tenant.id))))
        reader_done.set()

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    db.dispose()
    # The reader finished while the writer still held the lock (the writer only lets go once
    # reader_done is set), so it never queued behind it.
    assert reader_done.is_set()
    assert read == [[]]
