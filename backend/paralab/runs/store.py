"""The embedded run store: stdlib sqlite3 in WAL mode, one file under ``data_dir``.

Events are kept exactly as they were streamed (their JSON), so a finished run replays
byte for byte. They are stored in chunks, one row per batch the child sent (newline-
separated JSON, seq ``first_seq`` .. ``last_seq``): one B-tree insert per batch instead
of per event. Output lines and metrics also get tables of their own for quick views.

A write the store cannot take (the disk or SQLite's page limit is full, an I/O error)
raises ``StoreFull`` / ``StoreUnavailable`` (503) and changes nothing: each write is one
transaction, so what was stored stays as it was, and reads keep working.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from paralab.errors import Unavailable
from paralab.lab.events import FINAL_STATUSES, MAX_SEQ, Metric, Output
from paralab.runs.records import MAX_EVENT_PAGE, MetricValue, OutputLine, Run

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    scenario_id TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    error TEXT NOT NULL DEFAULT '',
    exit_code INTEGER,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at DESC);
CREATE TABLE IF NOT EXISTS event_chunks (
    run_id TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (run_id, first_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    t_ns INTEGER NOT NULL,
    actor TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS output (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    t_ns INTEGER NOT NULL,
    actor TEXT NOT NULL,
    stream TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
"""

_RUN_TABLES = (
    ("event_chunks", "run_id"),
    ("output", "run_id"),
    ("metrics", "run_id"),
    ("runs", "id"),
)

RUN_COLUMNS = (
    "id, scenario_id, params, status, created_at, started_at, finished_at, error, exit_code, "
    "last_seq"
)


class StoreUnavailable(Unavailable):
    """The run store cannot be written now; what it holds can still be read."""

    error = "run_store_unavailable"


class StoreFull(StoreUnavailable):
    """The disk (or the store's page limit) is full."""

    error = "run_store_full"


FULL_CODES = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR_SHMSIZE}
"""A full disk shows as SQLITE_FULL, or as this I/O error when the WAL index cannot grow."""


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """sqlite3's operational errors as ours; anything else (a bug) stays as it is."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode in FULL_CODES:
            raise StoreFull(
                "The run store is full (database or disk is full); runs can be stored again "
                "once space is freed.",
                retry_after_s=30,
            ) from exc
        raise StoreUnavailable(
            f"The run store cannot be written ({exc}).", retry_after_s=5
        ) from exc


class StoredEvent(msgspec.Struct, frozen=True):
    seq: int
    body: bytes
    """The event's JSON, as streamed."""


def _unpack(first_seq: int, body: bytes) -> list[StoredEvent]:
    """One stored chunk (newline-joined JSON events) back into numbered events."""
    return [StoredEvent(first_seq + i, line) for i, line in enumerate(bytes(body).split(b"\n"))]


class RunStore:
    """All reads and writes of runs, events and output. Not thread-safe: one owner."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """A store written by an older version gets the columns added since."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(metrics)")}
        if "labels" not in columns:
            self._db.execute("ALTER TABLE metrics ADD COLUMN labels TEXT NOT NULL DEFAULT '{}'")

    def close(self) -> None:
        self._db.close()

    def healthy(self) -> bool:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def insert_run(self, run: Run) -> None:
        with _writing():
            self._insert_run(run)

    def update_run(self, run: Run) -> None:
        with _writing():
            self._update_run(run)

    def record(
        self,
        run: Run,
        first_seq: int,
        bodies: Sequence[bytes],
        outputs: Iterable[Output] = (),
        metrics: Iterable[Metric] = (),
    ) -> None:
        """Store a batch of ``run``'s events and its record (inserted if new), atomically: the
        stored ``last_seq`` never disagrees with the stored events."""
        with _writing(), self._db:
            self._db.execute("BEGIN")
            self._insert_events(run.id, first_seq, bodies, outputs, metrics)
            if not self._update_run(run):
                self._insert_run(run)

    def delete_run(self, run_id: str) -> None:
        """Forget a finished run: its record, events, output and metrics (their pages are
        reused by new runs)."""
        with _writing(), self._db:
            self._db.execute("BEGIN")
            for table, column in _RUN_TABLES:
                self._db.execute(f"DELETE FROM {table} WHERE {column}=?", (run_id,))

    def page_count(self) -> int:
        return int(self._db.execute("PRAGMA page_count").fetchone()[0])

    def set_max_pages(self, pages: int) -> int:
        """Cap the file at ``pages`` pages (never below the pages in use; SQLite's default
        cap is about 4 billion): a write needing more raises ``StoreFull``. The cap holds
        for this connection only. Returns the cap now in force."""
        return int(self._db.execute(f"PRAGMA max_page_count={int(pages)}").fetchone()[0])

    def _insert_run(self, run: Run) -> None:
        self._db.execute(
            f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.id,
                run.scenario_id,
                msgspec.json.encode(run.params),
                run.status,
                run.created_at.timestamp(),
                _timestamp(run.started_at),
                _timestamp(run.finished_at),
                run.error,
                run.exit_code,
                run.last_seq,
            ),
        )

    def _update_run(self, run: Run) -> bool:
        """False if there is no such run."""
        cursor = self._db.execute(
            "UPDATE runs SET status=?, started_at=?, finished_at=?, error=?, exit_code=?, "
            "last_seq=? WHERE id=?",
            (
                run.status,
                _timestamp(run.started_at),
                _timestamp(run.finished_at),
                run.error,
                run.exit_code,
                run.last_seq,
                run.id,
            ),
        )
        return cursor.rowcount > 0

    def get_run(self, run_id: str) -> Run | None:
        row = self._db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id=?", (run_id,)).fetchone()
        return _run_from_row(row) if row else None

    def list_runs(
        self, *, scenario_id: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[Run], int]:
        where, args = _filters(scenario_id=scenario_id, status=status)
        total = self._db.execute(f"SELECT COUNT(*) FROM runs{where}", args).fetchone()[0]
        rows = self._db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs{where} ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()
        return [_run_from_row(row) for row in rows], int(total)

    def append_events(
        self,
        run_id: str,
        first_seq: int,
        bodies: Sequence[bytes],
        outputs: Iterable[Output] = (),
        metrics: Iterable[Metric] = (),
    ) -> None:
        """Store one batch (seq ``first_seq`` on) and the output and metrics in it, atomically."""
        with _writing(), self._db:
            self._db.execute("BEGIN")
            self._insert_events(run_id, first_seq, bodies, outputs, metrics)

    def _insert_events(
        self,
        run_id: str,
        first_seq: int,
        bodies: Sequence[bytes],
        outputs: Iterable[Output],
        metrics: Iterable[Metric],
    ) -> None:
        self._db.execute(
            "INSERT INTO event_chunks (run_id, first_seq, last_seq, body) VALUES (?, ?, ?, ?)",
            (run_id, first_seq, first_seq + len(bodies) - 1, b"\n".join(bodies)),
        )
        self._db.executemany(
            "INSERT INTO output (run_id, seq, t_ns, actor, stream, line) VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, o.seq, o.t_ns, o.actor, o.stream, o.line) for o in outputs],
        )
        self._db.executemany(
            "INSERT INTO metrics (run_id, seq, t_ns, actor, name, value, unit, labels) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (run_id, m.seq, m.t_ns, m.actor, m.name, m.value, m.unit, _labels(m))
                for m in metrics
            ],
        )

    def events(
        self, run_id: str, from_seq: int = 1, limit: int = MAX_EVENT_PAGE
    ) -> list[StoredEvent]:
        """Up to ``limit`` events from ``from_seq`` on, in order."""
        found: list[StoredEvent] = []
        rows = self._db.execute(
            "SELECT first_seq, body FROM event_chunks WHERE run_id=? AND last_seq>=? "
            "ORDER BY first_seq",
            (run_id, from_seq),
        )
        for first_seq, body in rows:
            for event in _unpack(first_seq, body):
                if event.seq >= from_seq:
                    found.append(event)
                    if len(found) == limit:
                        return found
        return found

    def event_pages(self, run_id: str, page_size: int = 20_000) -> Iterator[list[StoredEvent]]:
        """Every event of a run, page by page, read on a connection of its own: the
        iterator may be advanced from a worker thread while the owner keeps writing."""
        with contextlib.closing(sqlite3.connect(self.path, check_same_thread=False)) as db:
            rows = db.execute(
                "SELECT first_seq, body FROM event_chunks WHERE run_id=? ORDER BY first_seq",
                (run_id,),
            )
            page: list[StoredEvent] = []
            for first_seq, body in rows:
                page += _unpack(first_seq, body)
                if len(page) >= page_size:
                    yield page
                    page = []
            if page:
                yield page

    def metrics(self, run_id: str) -> list[MetricValue]:
        rows = self._db.execute(
            "SELECT name, value, unit, actor, t_ns, labels FROM metrics WHERE run_id=? "
            "ORDER BY seq",
            (run_id,),
        ).fetchall()
        return [
            MetricValue(name, value, unit, actor, t_ns, labels=msgspec.json.decode(labels))
            for name, value, unit, actor, t_ns, labels in rows
        ]

    def output(self, run_id: str, last: int = MAX_SEQ) -> list[OutputLine]:
        """The run's output lines in order; only the ``last`` ones if there are more."""
        rows = self._db.execute(
            "SELECT seq, t_ns, actor, stream, line FROM output WHERE run_id=? "
            "ORDER BY seq DESC LIMIT ?",
            (run_id, last),
        ).fetchall()
        return [OutputLine(*row) for row in reversed(rows)]

    def output_count(self, run_id: str) -> int:
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM output WHERE run_id=?", (run_id,)
        ).fetchone()
        return int(count)

    def unfinished_runs(self) -> list[Run]:
        marks = ",".join("?" * len(FINAL_STATUSES))
        rows = self._db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE status NOT IN ({marks})", tuple(FINAL_STATUSES)
        ).fetchall()
        return [_run_from_row(row) for row in rows]


def _labels(metric: Metric) -> str:
    return msgspec.json.encode(metric.labels).decode()


def _filters(**equal: str | None) -> tuple[str, tuple[Any, ...]]:
    clauses = [(f"{column}=?", value) for column, value in equal.items() if value is not None]
    if not clauses:
        return "", ()
    return " WHERE " + " AND ".join(c for c, _ in clauses), tuple(v for _, v in clauses)


def _run_from_row(row: tuple[Any, ...]) -> Run:
    (run_id, scenario_id, params, status, created, started, finished, error, code, seq) = row
    duration = round(finished - started, 6) if started and finished else None
    return Run(
        id=run_id,
        scenario_id=scenario_id,
        params=msgspec.json.decode(params),
        status=status,
        created_at=_datetime(created),
        started_at=_datetime(started) if started else None,
        finished_at=_datetime(finished) if finished else None,
        duration_s=duration,
        error=error,
        exit_code=code,
        last_seq=seq,
    )


def now() -> datetime:
    return datetime.now(UTC)


def _datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
