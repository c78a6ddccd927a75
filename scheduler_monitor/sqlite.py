"""SQLite tuned on every connection: WAL, a busy timeout, IMMEDIATE transactions.

startproject's default SQLite settings (rollback journal, 5 s timeout, deferred
transactions) make the scheduler and the web server fail each other with ``database is
locked``. WAL lets readers and one writer overlap, the busy timeout makes writers queue,
and ``BEGIN IMMEDIATE`` takes the write lock up front: a deferred transaction that read
first fails at once (no busy wait) when another writer committed meanwhile, which is
what the job store's read-then-update transactions did. Applied from Django's
``connection_created`` signal, so a host does not have to copy our DATABASES options;
``SCHEDULER_MONITOR["SQLITE_TUNING"] = False`` turns it off.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection as default_connection
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from scheduler_monitor import conf

logger = logging.getLogger(__name__)


@receiver(connection_created)
def tune_sqlite(sender, connection, **kwargs):
    """Put a new SQLite connection in WAL mode and raise its busy timeout."""
    if connection.vendor != "sqlite" or not conf.get("SQLITE_TUNING"):
        return
    wanted_ms = int(conf.get("SQLITE_BUSY_TIMEOUT") * 1000)
    if getattr(connection, "transaction_mode", "") is None:  # Django 5.1+; None: DEFERRED
        connection.transaction_mode = "IMMEDIATE"
    # The raw DB-API cursor: no Django transaction or debug wrapping at connect time.
    cursor = connection.connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout")
        if cursor.fetchone()[0] < wanted_ms:
            cursor.execute(f"PRAGMA busy_timeout = {wanted_ms}")
        if not connection.is_in_memory_db():
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
                mode = str(cursor.fetchone()[0]).lower()
                if mode != "wal":
                    logger.warning("SQLite refused WAL mode (journal_mode is %s)", mode)
    except Exception as exc:  # noqa: BLE001 - tuning is best effort; the check reports it
        logger.warning("Could not tune the SQLite connection: %s", exc)
    finally:
        cursor.close()


class PacedCheckpoints:
    """The checkpoints of one long batched write on SQLite (see ``checkpoints_every``)."""

    def __init__(self, raw=None):
        self._raw = raw  # the DB-API connection; None: nothing to do (not a SQLite WAL)
        self._version = None
        self.others_seen = False  # another connection committed since the block began
        self.seconds = 0.0  # spent in the checkpoints run here

    def after_commit(self) -> None:
        """Checkpoint now once another connection has committed during the block.

        Any connection's commit checkpoints all the frames not yet copied once the WAL
        holds 1,000 pages: with the interval raised, a scheduler writing between two
        batches copied the frames of the batches before (figure 10: start delay p99 7 ms
        -> 275 ms). From the first commit of another connection seen on (data_version),
        each batch copies its own frames, as at SQLite's default, for the rest of the
        block: a scheduler writes again, if not between these two batches then between
        later ones (checkpointing only right after another's commit still left 85 ms). The
        long interval pays only while nobody else writes.
        """
        if self._raw is None:
            return
        version = self._raw.execute("PRAGMA data_version").fetchone()[0]
        if self._version is not None and version != self._version:
            self.others_seen = True
        self._version = version
        if self.others_seen:
            self.checkpoint()

    def checkpoint(self) -> None:
        if self._raw is None:
            return
        started = time.perf_counter()
        self._raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.seconds += time.perf_counter() - started


@contextmanager
def checkpoints_every(pages: int, connection=None) -> Iterator[PacedCheckpoints]:
    """Let the WAL grow to ``pages`` between automatic checkpoints for the block, then
    checkpoint and put the connection's own setting back.

    For one long batched write (the prune): each checkpoint copies every page the WAL holds
    to the database file and syncs, so a page dirtied by many small transactions is copied
    once per checkpoint instead of once per transaction. The WAL stays bounded by ``pages``
    (plus one transaction); only this connection's setting changes, and only meanwhile.
    Call ``after_commit()`` of what it yields after each transaction (others may be
    writing); its ``seconds`` are those of the checkpoints it ran, the last one included.
    Elsewhere than on a SQLite WAL database outside a transaction, nothing changes.
    """
    connection = connection or default_connection
    # Inside a transaction the batches commit nothing, and a checkpoint cannot run.
    if (
        connection.vendor != "sqlite"
        or connection.is_in_memory_db()
        or connection.in_atomic_block
        or pages <= 0
    ):
        yield PacedCheckpoints()
        return
    connection.ensure_connection()
    raw = connection.connection
    was = raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    wal = str(raw.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
    change = wal and 0 < was < pages  # 0: the host checkpoints itself; leave that alone
    if not change:
        yield PacedCheckpoints()
        return
    checkpoints = PacedCheckpoints(raw)
    raw.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")
    try:
        yield checkpoints
    finally:
        raw.execute(f"PRAGMA wal_autocheckpoint = {int(was)}")
        checkpoints.checkpoint()
