"""The audit history: an append-only, hash-chained ledger of audits in one SQLite file.

Storage is Python's standard-library :mod:`sqlite3`: an embedded database in one
file beside the bundles, no server and no new dependency (it ships with Python).

Two tables. ``records`` holds one row per recorded audit (``kind`` "run") or
comparison (``kind`` "diff"); ``head`` holds one row, the latest record's
``seq`` and ``record_hash``. Both are written in the same ``BEGIN IMMEDIATE``
transaction, which also serialises writers: two audits recording at once cannot
both append after the same record.

The chain. Each record stores ``prev_hash`` (the previous record's
``record_hash``; 64 zeros for record 1) and ``record_hash``, the SHA-256 (hex) of
the canonical JSON of every other column::

    json.dumps({"seq": ..., "kind": ..., "system": ..., "version": ..., "audit_date": ...,
                "recorded_at": ..., "verdict": ..., "counts": COUNTS_TEXT, "headline": HEADLINE_TEXT,
                "bundle_path": ..., "manifest_sha256": ..., "prev_hash": ...},
               sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

where ``COUNTS_TEXT`` and ``HEADLINE_TEXT`` are the JSON texts exactly as stored
(so the hash covers the stored bytes and anyone can recompute it without
re-serialising numbers). ``manifest_sha256`` is the SHA-256 of the bundle's
``manifest.json`` bytes, which in turn lists the SHA-256 of every file of the
signed bundle.

What the chain shows, and what it does not. :func:`verify_history` finds a
record edited in place (its hash no longer matches), a record deleted in the
middle (the next record's ``prev_hash`` no longer links, and ``seq`` jumps), and
the last record(s) deleted (the ``head`` names a later record). It cannot find a
rewrite done with care: someone who can write the file, edits both tables
consistently and recomputes every hash produces a history that verifies. The
chain detects accidental and naive edits; what makes the history
tamper-evident is anchoring its head outside the database. :func:`record`
returns the new record, whose ``record_hash`` is the new head hash: put it in
the next bundle's manifest (which is signed), and a later rewrite of anything
before it no longer matches that signed value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from audit.errors import FILE_NOT_FOUND, AuditInputError

__all__ = [
    "DB_FILE_NAME",
    "GENESIS_HASH",
    "HISTORY_BROKEN",
    "HISTORY_CANNOT_OPEN",
    "HISTORY_LOCKED",
    "HISTORY_MANIFEST_MISSING",
    "HISTORY_NOT_A_DATABASE",
    "HISTORY_NOT_A_HISTORY",
    "HISTORY_RECORD_UNREADABLE",
    "HISTORY_WRITE_FAILED",
    "HistoryCheck",
    "HistoryRecord",
    "default_db_path",
    "record",
    "records",
    "verify_history",
]

DB_FILE_NAME = "audit-history.sqlite"
GENESIS_HASH = "0" * 64  # prev_hash of record 1
_MANIFEST_NAME = "manifest.json"  # audit.signing.MANIFEST_NAME, not imported to keep this module light
_LOCK_SECONDS = 30.0  # how long a writer waits for another writer's transaction to end
_KINDS = ("run", "diff")

# ---------------------------------------------------------------------------
# Messages (AuditInputError templates, as in audit/errors.py)

HISTORY_MANIFEST_MISSING = (
    "{path}: no manifest.json in this folder, so it cannot be recorded in the audit history; "
    "give the bundle folder the audit wrote"
)
HISTORY_NOT_A_DATABASE = (
    "{path}: not a SQLite database ({problem}); give the audit-history.sqlite file the audit wrote, "
    "or a path where no file exists yet"
)
HISTORY_NOT_A_HISTORY = (
    "{path}: a SQLite database, but not an audit history ({problem}); give the audit-history.sqlite file "
    "the audit wrote, or a path where no file exists yet"
)
HISTORY_CANNOT_OPEN = "{path}: cannot open the audit history ({problem}); give a file in a folder you can write to"
HISTORY_LOCKED = (
    "{path}: the audit history stayed locked by another writer for {seconds:g} s; try again when that audit "
    "has finished"
)
HISTORY_WRITE_FAILED = "{path}: could not write to the audit history ({problem}); nothing was appended"
HISTORY_BROKEN = (
    "{path}: the audit history was changed outside audit ({problem}); nothing was appended: check it with "
    "verify_history and start a new history file, keeping this one as evidence"
)
HISTORY_RECORD_UNREADABLE = (
    "{path}: record {seq}: {column} is not what audit writes ({problem}); the history was changed outside audit: "
    "check it with verify_history"
)

# Problems verify_history reports, one line each, naming the record.
_HASH_MISMATCH = "record {seq}: its hash does not match its content (edited?)"
_LINK_BROKEN = "record {seq}: previous-hash link broken: record {prev} deleted or edited?"
_FIRST_LINK_BROKEN = "record {seq}: its previous hash is not the start of a history (64 zeros): edited?"
_SEQ_START = "record {seq}: the history starts at record {seq}, not 1: record(s) {missing} deleted?"
_SEQ_GAP = "record {seq}: follows record {before}: record(s) {missing} deleted?"
_HEAD_MISSING = (
    "the head (latest record and its hash) is missing (table head emptied or dropped?), so deleting the last "
    "record(s) cannot be ruled out"
)
_HEAD_ROWS = "the head holds {count} rows, audit writes one (table head edited?)"
_HEAD_AHEAD = "record {head}: named by the head as the latest, but the last record is {last}: record(s) {missing} deleted?"
_HEAD_NO_RECORDS = "record {head}: named by the head as the latest, but the history holds no record: all deleted?"
_HEAD_BEHIND = "record {last}: comes after the head's latest record {head}: appended outside audit?"
_HEAD_HASH = "record {seq}: its hash differs from the head's (edited and re-hashed?)"
_BUNDLE_GONE = "record {seq}: bundle no longer at {path}"
_BUNDLE_NO_MANIFEST = "record {seq}: {path}: manifest.json is missing or unreadable, so the bundle cannot be checked"
_BUNDLE_MANIFEST_CHANGED = "record {seq}: {path}: manifest.json changed since it was recorded (its SHA-256 differs)"
_BUNDLE_PROBLEM = "record {seq}: {path}: {problem}"

# ---------------------------------------------------------------------------
# Schema

_COLUMNS = (
    "seq",
    "kind",
    "system",
    "version",
    "audit_date",
    "recorded_at",
    "verdict",
    "counts",
    "headline",
    "bundle_path",
    "manifest_sha256",
    "prev_hash",
    "record_hash",
)
_HASHED = _COLUMNS[:-1]  # every column but record_hash itself
_HEAD_COLUMNS = ("id", "seq", "record_hash")

_CREATE_RECORDS = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    system TEXT NOT NULL,
    version TEXT NOT NULL,
    audit_date TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    counts TEXT NOT NULL,
    headline TEXT NOT NULL,
    bundle_path TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL UNIQUE,
    record_hash TEXT NOT NULL UNIQUE
)
"""
_CREATE_HEAD = """
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    record_hash TEXT NOT NULL
)
"""


# ---------------------------------------------------------------------------
# Public types


@dataclass(frozen=True)
class HistoryRecord:
    """One recorded audit (``kind`` "run") or comparison of two audits (``kind`` "diff").

    ``counts`` are the requirement counts by status, ``headline`` the headline
    figures (None where a figure was not measured, never 0). ``record_hash`` of
    the record :func:`record` returns is the history's new head hash: put it in
    the next bundle's (signed) manifest to anchor the history outside the file.
    """

    seq: int
    kind: Literal["run", "diff"]
    system: str
    version: str
    audit_date: str
    recorded_at: str  # UTC, ISO 8601 to the second, e.g. 2026-11-22T10:15:00Z
    verdict: str
    counts: dict[str, int]
    headline: dict[str, float | None]
    bundle_path: Path  # absolute, as given when recorded
    manifest_sha256: str  # SHA-256 of the bundle's manifest.json bytes when recorded
    prev_hash: str  # record_hash of record seq - 1, or 64 zeros for record 1
    record_hash: str  # SHA-256 of the canonical JSON of every field above


@dataclass(frozen=True)
class HistoryCheck:
    """Outcome of :func:`verify_history`: ``ok`` only when ``problems`` is empty; one sentence per problem."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    n_records: int = 0


def default_db_path(output_dir: Path) -> Path:
    """Where the audit history lives by default: ``audit-history.sqlite`` in the output folder, beside the bundles."""
    return Path(output_dir) / DB_FILE_NAME


# ---------------------------------------------------------------------------
# Hashing


def _canonical(values: Mapping[str, object]) -> bytes:
    """The bytes ``record_hash`` is the SHA-256 of: the hashed columns as sorted, compact UTF-8 JSON."""
    return json.dumps(
        {name: values[name] for name in _HASHED},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_foreign,
    ).encode("utf-8")


def _foreign(value: object) -> str:
    """A value audit never stores (a BLOB put in by hand): hashed as its repr, so it cannot match."""
    return f"<{type(value).__name__}> {value!r}"


def _record_hash(values: Mapping[str, object]) -> str:
    return hashlib.sha256(_canonical(values)).hexdigest()


def _json_text(value: Mapping[str, object]) -> str:
    """A mapping as stored: sorted keys, compact, and never NaN or infinity (which JSON cannot hold)."""
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _checked_counts(counts: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in counts.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"counts must map names to whole numbers, got {key!r}: {value!r}")
        out[key] = value
    return out


def _checked_headline(headline: Mapping[str, float | None]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, value in headline.items():
        if isinstance(key, str) and value is None:
            out[key] = None  # not measured stays null, never 0
            continue
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"headline must map names to numbers or None, got {key!r}: {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"headline figure {key!r} is {value}; record a figure not measured as None")
        out[key] = float(value)
    return out


# ---------------------------------------------------------------------------
# Opening the file


def _problem(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _is_busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in str(exc)


@contextlib.contextmanager
def _open_existing(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to an existing history file (never creates one), closed on exit."""
    if not db_path.exists():
        raise AuditInputError(
            FILE_NOT_FOUND, what="audit history", path=db_path, hint="it is written when the first audit is recorded"
        )
    if not db_path.is_file():
        raise AuditInputError(HISTORY_NOT_A_DATABASE, path=db_path, problem="not a file")
    try:
        conn = sqlite3.connect(
            db_path.absolute().as_uri() + "?mode=ro", uri=True, timeout=_LOCK_SECONDS, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise AuditInputError(HISTORY_CANNOT_OPEN, path=db_path, problem=_problem(exc)) from exc
    try:
        yield conn
    finally:
        conn.close()


def _tables(conn: sqlite3.Connection, db_path: Path) -> dict[str, tuple[str, ...]]:
    """Each table of the database with its column names; a file that is not SQLite is refused here."""
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: tuple(col[0] for col in conn.execute("SELECT name FROM pragma_table_info(?) ORDER BY cid", (name,)))
            for name in names
        }
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            raise AuditInputError(HISTORY_LOCKED, path=db_path, seconds=_LOCK_SECONDS) from exc
        raise AuditInputError(HISTORY_NOT_A_DATABASE, path=db_path, problem=_problem(exc)) from exc


def _check_table(tables: Mapping[str, tuple[str, ...]], name: str, columns: tuple[str, ...], db_path: Path) -> None:
    if name not in tables:
        raise AuditInputError(HISTORY_NOT_A_HISTORY, path=db_path, problem=f"it has no table '{name}'")
    if tables[name] != columns:
        raise AuditInputError(
            HISTORY_NOT_A_HISTORY,
            path=db_path,
            problem=f"its table '{name}' has the columns {', '.join(tables[name])}, not {', '.join(columns)}",
        )


def _raw_records(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    cursor = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM records ORDER BY seq")
    return [dict(zip(_COLUMNS, row, strict=True)) for row in cursor]


# ---------------------------------------------------------------------------
# Writing


def record(
    *,
    db_path: Path,
    kind: Literal["run", "diff"],
    bundle_dir: Path,
    system: str,
    version: str,
    audit_date: str,
    verdict: str,
    counts: dict[str, int],
    headline: dict[str, float | None],
) -> HistoryRecord:
    """Append one audit (or comparison) to the history at ``db_path`` and return it, with the new head hash.

    The bundle's ``manifest.json`` is hashed first (refused when missing, before
    the database is touched). The file and its two tables are created when
    absent, in an empty database only: a database holding other tables, or only
    one of ours, is refused rather than extended, since a missing ``head`` is a
    sign of tampering that re-creating it would hide. Under ``BEGIN IMMEDIATE``
    (one writer at a time) the new record links to the current head; a history
    whose last record no longer matches its head (or its own hash) is refused,
    because appending to it would bury the evidence. The record and the head are
    written in that one transaction.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
    db_path = Path(db_path)
    bundle_path = Path(bundle_dir).absolute()
    manifest = bundle_path / _MANIFEST_NAME
    if not manifest.is_file():
        raise AuditInputError(HISTORY_MANIFEST_MISSING, path=bundle_path)
    try:
        manifest_sha256 = hashlib.sha256(manifest.read_bytes()).hexdigest()
    except OSError as exc:
        raise AuditInputError(HISTORY_MANIFEST_MISSING, path=bundle_path) from exc
    counts_text = _json_text(_checked_counts(counts))
    headline_text = _json_text(_checked_headline(headline))

    if db_path.exists() and not db_path.is_file():
        raise AuditInputError(HISTORY_NOT_A_DATABASE, path=db_path, problem="not a file")
    try:
        db_path.absolute().parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(db_path, timeout=_LOCK_SECONDS, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise AuditInputError(HISTORY_CANNOT_OPEN, path=db_path, problem=_problem(exc)) from exc
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise AuditInputError(HISTORY_LOCKED, path=db_path, seconds=_LOCK_SECONDS) from exc
            raise AuditInputError(HISTORY_NOT_A_DATABASE, path=db_path, problem=_problem(exc)) from exc
        try:
            values = _append(conn, db_path, {
                "kind": kind,
                "system": system,
                "version": version,
                "audit_date": audit_date,
                "verdict": verdict,
                "counts": counts_text,
                "headline": headline_text,
                "bundle_path": str(bundle_path),
                "manifest_sha256": manifest_sha256,
            })
            conn.execute("COMMIT")
        except BaseException:  # any interruption (KeyboardInterrupt too) rolls the append back; re-raised
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            raise AuditInputError(HISTORY_LOCKED, path=db_path, seconds=_LOCK_SECONDS) from exc
        raise AuditInputError(HISTORY_WRITE_FAILED, path=db_path, problem=_problem(exc)) from exc
    finally:
        conn.close()
    return _to_record(values, db_path)


def _append(conn: sqlite3.Connection, db_path: Path, fields: dict[str, object]) -> dict[str, Any]:
    """Inside the writer's transaction: check the tip of the chain, insert the record, move the head."""
    tables = _tables(conn, db_path)
    if not tables:
        conn.execute(_CREATE_RECORDS)
        conn.execute(_CREATE_HEAD)
    else:
        _check_table(tables, "records", _COLUMNS, db_path)
        _check_table(tables, "head", _HEAD_COLUMNS, db_path)

    heads = conn.execute("SELECT seq, record_hash FROM head").fetchall()
    last = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM records ORDER BY seq DESC LIMIT 1").fetchone()
    if last is None and not heads:
        seq, prev_hash = 1, GENESIS_HASH
    else:
        if last is None:
            problem = f"the head names record {heads[0][0]}, but the history holds no record"
        elif len(heads) != 1:
            problem = f"the head holds {len(heads)} rows, audit writes one"
        else:
            tip = dict(zip(_COLUMNS, last, strict=True))
            head_seq, head_hash = heads[0]
            if (tip["seq"], tip["record_hash"]) != (head_seq, head_hash):
                problem = f"the last record is {tip['seq']}, but the head names record {head_seq} with another hash"
            elif _record_hash(tip) != tip["record_hash"]:
                problem = f"record {tip['seq']}: its hash does not match its content"
            else:
                problem = ""
        if problem:
            raise AuditInputError(HISTORY_BROKEN, path=db_path, problem=problem)
        seq, prev_hash = int(heads[0][0]) + 1, str(heads[0][1])

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    values: dict[str, Any] = {
        "seq": seq,
        **fields,
        "recorded_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "prev_hash": prev_hash,
    }
    values["record_hash"] = _record_hash(values)
    conn.execute(
        f"INSERT INTO records ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})",
        [values[name] for name in _COLUMNS],
    )
    conn.execute(
        "INSERT INTO head (id, seq, record_hash) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, record_hash = excluded.record_hash",
        (seq, values["record_hash"]),
    )
    return values


# ---------------------------------------------------------------------------
# Reading


def records(*, db_path: Path) -> list[HistoryRecord]:
    """Every record of the history, in ``seq`` order, as stored (use :func:`verify_history` to check them)."""
    db_path = Path(db_path)
    with _open_existing(db_path) as conn:
        _check_table(_tables(conn, db_path), "records", _COLUMNS, db_path)
        rows = _raw_records(conn)
    return [_to_record(row, db_path) for row in rows]


def _to_record(row: Mapping[str, Any], db_path: Path) -> HistoryRecord:
    """A stored row as a typed record; a value audit could not have written is refused, naming the record."""
    seq = row["seq"]

    def unreadable(column: str, problem: str) -> AuditInputError:
        return AuditInputError(HISTORY_RECORD_UNREADABLE, path=db_path, seq=seq, column=column, problem=problem)

    for name in _COLUMNS[1:]:
        if not isinstance(row[name], str):
            raise unreadable(name, f"a {type(row[name]).__name__}, not text")
    if row["kind"] not in _KINDS:
        raise unreadable("kind", f"{row['kind']!r} is neither run nor diff")
    parsed: dict[str, dict[str, Any]] = {}
    for column, allowed in (("counts", (int,)), ("headline", (int, float, type(None)))):
        try:
            value = json.loads(row[column])
        except ValueError as exc:
            raise unreadable(column, f"not JSON: {exc}") from exc
        if not isinstance(value, dict) or not all(
            isinstance(v, allowed) and not isinstance(v, bool) for v in value.values()
        ):
            raise unreadable(column, "not a mapping of names to numbers")
        parsed[column] = value
    return HistoryRecord(
        seq=int(seq),
        kind=cast(Literal["run", "diff"], row["kind"]),
        system=row["system"],
        version=row["version"],
        audit_date=row["audit_date"],
        recorded_at=row["recorded_at"],
        verdict=row["verdict"],
        counts={key: int(value) for key, value in parsed["counts"].items()},
        headline={key: None if value is None else float(value) for key, value in parsed["headline"].items()},
        bundle_path=Path(row["bundle_path"]),
        manifest_sha256=row["manifest_sha256"],
        prev_hash=row["prev_hash"],
        record_hash=row["record_hash"],
    )


# ---------------------------------------------------------------------------
# Verifying


def _missing(first: int, last: int) -> str:
    """The seq numbers from ``first`` to ``last`` as a short phrase: "4" or "4 to 7"."""
    return str(first) if first == last else f"{first} to {last}"


def verify_history(*, db_path: Path, verify_bundles: bool = True) -> HistoryCheck:
    """Re-check the whole history and name, record by record, what does not hold.

    Every ``record_hash`` is recomputed from its record; every ``prev_hash`` must
    be the previous record's hash (64 zeros for the first); ``seq`` must run 1,
    2, ... without a gap; and the head must name the last record and its hash
    (the one way to notice the last record(s) deleted). With
    ``verify_bundles``, each record's bundle folder is checked too: its
    ``manifest.json`` must still have the SHA-256 recorded, and
    :func:`audit.verify.verify_bundle` must find nothing wrong (with the
    bundle's own certificate, which shows it is self-consistent only; run
    ``audit verify --cert`` with the certificate you trust to check who signed
    it). A bundle folder no longer there is a problem, never a silent pass.
    This rehashes every file of every bundle still present.

    A history rewritten consistently (every hash recomputed, the head updated)
    passes: see the module docstring for why the head must be anchored outside
    the file. Raises :class:`AuditInputError` only when ``db_path`` is missing,
    not SQLite or has no ``records`` table.
    """
    db_path = Path(db_path)
    with _open_existing(db_path) as conn:
        tables = _tables(conn, db_path)
        _check_table(tables, "records", _COLUMNS, db_path)
        conn.execute("BEGIN")  # one snapshot of both tables
        rows = _raw_records(conn)
        heads = conn.execute("SELECT seq, record_hash FROM head").fetchall() if "head" in tables else None
        conn.execute("COMMIT")

    problems: list[str] = []
    problems += _chain_problems(rows)
    problems += _head_problems(rows, heads)
    if verify_bundles:
        problems += _bundle_problems(rows)
    return HistoryCheck(ok=not problems, problems=problems, n_records=len(rows))


def _chain_problems(rows: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    before: dict[str, Any] | None = None
    for row in rows:
        seq = row["seq"]
        if _record_hash(row) != row["record_hash"]:
            problems.append(_HASH_MISMATCH.format(seq=seq))
        expected_seq = 1 if before is None else before["seq"] + 1
        if seq != expected_seq:
            if before is None:
                problems.append(_SEQ_START.format(seq=seq, missing=_missing(1, seq - 1)))
            else:
                problems.append(_SEQ_GAP.format(seq=seq, before=before["seq"], missing=_missing(expected_seq, seq - 1)))
        if before is None:
            if row["prev_hash"] != GENESIS_HASH:
                problems.append(
                    _FIRST_LINK_BROKEN.format(seq=seq) if seq == 1 else _LINK_BROKEN.format(seq=seq, prev=seq - 1)
                )
        elif row["prev_hash"] != before["record_hash"]:
            problems.append(_LINK_BROKEN.format(seq=seq, prev=seq - 1))
        before = row
    return problems


def _head_problems(rows: list[dict[str, Any]], heads: list[tuple[Any, ...]] | None) -> list[str]:
    if heads is None or (not heads and rows):
        return [_HEAD_MISSING]
    if not heads:
        return []
    if len(heads) != 1:
        return [_HEAD_ROWS.format(count=len(heads))]
    head_seq, head_hash = heads[0]
    if not rows:
        return [_HEAD_NO_RECORDS.format(head=head_seq)]
    last = rows[-1]
    if head_seq != last["seq"]:
        if isinstance(head_seq, int) and head_seq > last["seq"]:
            return [_HEAD_AHEAD.format(head=head_seq, last=last["seq"], missing=_missing(last["seq"] + 1, head_seq))]
        return [_HEAD_BEHIND.format(last=last["seq"], head=head_seq)]
    if head_hash != last["record_hash"]:
        return [_HEAD_HASH.format(seq=last["seq"])]
    return []


#: The key of a bundle's manifest (under "audit") naming the history's head when the bundle was sealed.
ANCHOR_KEY = "history_previous"
_ANCHOR_BROKEN = ("record {seq}: its bundle was sealed after record {prev} with hash {anchored}, but the history's "
                  "record {prev} now has hash {found} (history rewritten?)")
_ANCHOR_SEQ = ("record {seq}: its bundle was sealed when the history's last record was {anchored}, but the record "
               "before it is now {prev} (records inserted or deleted?)")


def check_before_append(*, db_path: Path) -> None:
    """Refuse (before an audit starts its work) a history that ``record`` would refuse to extend afterwards."""
    if not Path(db_path).exists():
        return
    found = verify_history(db_path=db_path, verify_bundles=False)
    if not found.ok:
        raise AuditInputError(HISTORY_BROKEN, path=db_path, problem=found.problems[0])


def anchor(*, db_path: Path) -> dict[str, object] | None:
    """The head to seal into the next bundle's manifest ({seq, record_hash}), or None for no history yet.

    A signed manifest that names the head makes a consistent rewrite of the records before it detectable:
    :func:`verify_history` compares every bundle's anchor with the chain.
    """
    if not Path(db_path).is_file():
        return None
    found = records(db_path=db_path)
    return {"seq": found[-1].seq, "record_hash": found[-1].record_hash} if found else None


def _anchor_problems(row: dict[str, Any], before: dict[str, Any] | None, manifest: bytes) -> list[str]:
    """A bundle's sealed anchor against the record before it in the chain (bundles sealed without one: none)."""
    try:
        info = json.loads(manifest).get("audit", {})
    except (ValueError, AttributeError):
        return []  # verify_bundle names an unreadable manifest
    if not isinstance(info, dict) or ANCHOR_KEY not in info:
        return []
    anchored = info[ANCHOR_KEY]
    seq = row["seq"]
    if anchored is None:
        return [] if before is None else [_ANCHOR_SEQ.format(seq=seq, anchored="none", prev=before["seq"])]
    if not isinstance(anchored, dict) or before is None or anchored.get("seq") != before["seq"]:
        shown = anchored.get("seq") if isinstance(anchored, dict) else anchored
        return [_ANCHOR_SEQ.format(seq=seq, anchored=shown, prev=before["seq"] if before else "none")]
    if anchored.get("record_hash") != before["record_hash"]:
        return [_ANCHOR_BROKEN.format(seq=seq, prev=before["seq"], anchored=str(anchored.get("record_hash"))[:12],
                                      found=str(before["record_hash"])[:12])]
    return []


def _bundle_problems(rows: list[dict[str, Any]]) -> list[str]:
    from audit.verify import verify_bundle  # pyHanko and cryptography: only when bundles are checked

    problems: list[str] = []
    before: dict[str, Any] | None = None
    checked: dict[str, list[str]] = {}  # one verify_bundle per folder, however many records name it
    for row in rows:
        seq, path = row["seq"], row["bundle_path"]
        folder = Path(str(path))
        previous, before = before, row
        if not folder.is_dir():
            problems.append(_BUNDLE_GONE.format(seq=seq, path=path))
            continue
        try:
            manifest = (folder / _MANIFEST_NAME).read_bytes()
        except OSError:
            problems.append(_BUNDLE_NO_MANIFEST.format(seq=seq, path=path))
            continue
        digest = hashlib.sha256(manifest).hexdigest()
        problems += _anchor_problems(row, previous, manifest)
        if digest != row["manifest_sha256"]:
            problems.append(_BUNDLE_MANIFEST_CHANGED.format(seq=seq, path=path))
        if str(path) not in checked:
            try:
                checked[str(path)] = verify_bundle(bundle_dir=folder).problems
            except AuditInputError as exc:
                checked[str(path)] = [str(exc)]
        problems += [_BUNDLE_PROBLEM.format(seq=seq, path=path, problem=problem) for problem in checked[str(path)]]
    return problems
