"""sqlite.py: checkpoints_every, the prune's temporary WAL checkpoint interval."""

import pytest
from django.db import connection, transaction

from scheduler_monitor.sqlite import checkpoints_every

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's WAL")


def pragma(name: str):
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()


def write_rows(n: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS wal_probe (id INTEGER PRIMARY KEY, v TEXT)")
        cursor.executemany("INSERT INTO wal_probe (v) VALUES (%s)", [("x" * 500,)] * n)


@pytest.fixture
def probe_table():
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS wal_probe")


@pytest.mark.django_db(transaction=True)
def test_it_raises_the_interval_meanwhile_then_puts_it_back_and_checkpoints(probe_table):
    assert pragma("journal_mode")[0] == "wal"
    before = pragma("wal_autocheckpoint")[0]
    with checkpoints_every(5000) as checkpoints:
        assert pragma("wal_autocheckpoint")[0] == 5000
        write_rows(2000)  # about 250 pages: fewer than 5,000, so no checkpoint yet
        checkpoints.after_commit()
        write_rows(2000)
        checkpoints.after_commit()  # only this connection wrote: still none
        assert checkpoints.seconds == 0.0
    assert pragma("wal_autocheckpoint")[0] == before
    assert checkpoints.seconds > 0
    busy, frames, copied = pragma("wal_checkpoint(PASSIVE)")
    assert busy == 0 and frames == copied


@pytest.mark.django_db(transaction=True)
def test_it_puts_the_interval_back_when_the_block_fails():
    before = pragma("wal_autocheckpoint")[0]
    with pytest.raises(RuntimeError), checkpoints_every(5000):
        raise RuntimeError("a batch failed")
    assert pragma("wal_autocheckpoint")[0] == before


@pytest.mark.django_db(transaction=True)
def test_it_leaves_a_host_that_checkpoints_itself_alone():
    """wal_autocheckpoint = 0: the host runs its own checkpoints; none is added."""
    before = pragma("wal_autocheckpoint")[0]
    try:
        pragma("wal_autocheckpoint = 0")
        with checkpoints_every(5000) as checkpoints:
            assert pragma("wal_autocheckpoint")[0] == 0
            checkpoints.after_commit()
        assert pragma("wal_autocheckpoint")[0] == 0 and checkpoints.seconds == 0.0
    finally:
        pragma(f"wal_autocheckpoint = {before}")


@pytest.mark.django_db
def test_it_changes_nothing_inside_a_transaction():
    """A checkpoint cannot run inside a transaction, and nothing commits there meanwhile."""
    assert connection.in_atomic_block
    before = pragma("wal_autocheckpoint")[0]
    with checkpoints_every(5000) as checkpoints:
        assert pragma("wal_autocheckpoint")[0] == before
        checkpoints.after_commit()
    assert checkpoints.seconds == 0.0


@pytest.mark.django_db(transaction=True)
def test_it_checkpoints_after_a_commit_when_another_connection_wrote(probe_table):
    """Another writer's commit would otherwise copy this connection's pending frames."""
    import sqlite3

    write_rows(1)  # the table exists for the other connection
    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=20)
    try:
        with checkpoints_every(5000) as checkpoints:
            write_rows(2000)
            checkpoints.after_commit()  # the first call only takes note of the version
            write_rows(2000)
            checkpoints.after_commit()
            assert checkpoints.seconds == 0.0
            other.execute("INSERT INTO wal_probe (v) VALUES ('from the scheduler')")
            other.commit()
            write_rows(2000)
            checkpoints.after_commit()
            assert checkpoints.seconds > 0 and checkpoints.others_seen
            busy, frames, copied = pragma("wal_checkpoint(PASSIVE)")
            assert busy == 0 and frames == copied
            # From then on every commit copies its own frames, the other one quiet or not.
            write_rows(2000)
            seconds = checkpoints.seconds
            checkpoints.after_commit()
            assert checkpoints.seconds > seconds
            busy, frames, copied = pragma("wal_checkpoint(PASSIVE)")
            assert busy == 0 and frames == copied
    finally:
        other.close()
