"""The audit history (audit/history): a hash chain in SQLite, checked against hashlib and sqlite3 by hand.

Bundles are real signed ones, sealed with audit.signing and a test key (a small report.html and audit.json,
no PDF: verify_bundle checks a PDF only when there is one), so verify_history's bundle checks run
audit.verify.verify_bundle for real. Every tamper is done with raw sqlite3 or by editing files, never through
the module under test, and every expected hash is computed here with hashlib.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pytest

from audit.errors import FILE_NOT_FOUND, AuditInputError
from audit.history import (
    GENESIS_HASH,
    HISTORY_BROKEN,
    HISTORY_MANIFEST_MISSING,
    HISTORY_NOT_A_DATABASE,
    HISTORY_NOT_A_HISTORY,
    HistoryCheck,
    HistoryRecord,
    default_db_path,
    record,
    records,
    verify_history,
)
from audit.signing import generate_keypair, seal_bundle

HASHED = ("seq", "kind", "system", "version", "audit_date", "recorded_at", "verdict", "counts", "headline",
          "bundle_path", "manifest_sha256", "prev_hash")
COUNTS = [{"PASS": 12, "FAIL": 1, "REVIEW": 7, "N/A": 3}, {"PASS": 13, "FAIL": 0, "REVIEW": 7, "N/A": 3},
          {"REVIEW": 2, "PASS": 20, "FAIL": 0, "N/A": 1}]
HEADLINES: list[dict[str, float | None]] = [
    {"accuracy": 0.74, "impact_ratio_min": 0.81, "lime_fidelity": None},
    {"accuracy": 0.75, "impact_ratio_min": 0.84, "lime_fidelity": 0.9},
    {"impact_ratio_min": None, "accuracy": 0.0},
]
VERDICTS = ["FAIL", "PASS", "PASS"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    generate_keypair(key_path=folder / "key.pem", cert_path=folder / "cert.pem", common_name="History Test")
    return folder / "key.pem", folder / "cert.pem"


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, keys: tuple[Path, Path]) -> list[Path]:
    """Three small signed bundles, as audit run would leave under reports/<system>/<timestamp>/ (never changed)."""
    root = tmp_path_factory.mktemp("sealed")
    bundles = []
    for i in range(3):
        bundle = root / f"2026112{i}T101500Z"
        bundle.mkdir()
        (bundle / "audit.json").write_text(json.dumps({"schema_version": "1.0", "run": i}), encoding="utf-8")
        (bundle / "report.html").write_text(f"<html><body>audit {i}</body></html>\n", encoding="utf-8")
        seal_bundle(bundle_dir=bundle, key_path=keys[0], cert_path=keys[1], info={"seed": 42, "run": i})
        bundles.append(bundle)
    return bundles


@pytest.fixture
def bundles(sealed: list[Path], tmp_path: Path) -> list[Path]:
    """A copy of the three bundles for one test, which may change or move them."""
    out = []
    for bundle in sealed:
        copy = tmp_path / "reports" / "credit" / bundle.name
        shutil.copytree(bundle, copy)
        out.append(copy)
    return out


def _record(db: Path, bundle: Path, i: int, *, kind: Literal["run", "diff"] = "run") -> HistoryRecord:
    return record(db_path=db, kind=kind, bundle_dir=bundle, system="Credit scoring (Kreditwürdigkeit)",
                  version=f"1.{i}", audit_date=f"2026-11-2{i}", verdict=VERDICTS[i], counts=COUNTS[i],
                  headline=HEADLINES[i])


@pytest.fixture
def chain(bundles: list[Path], tmp_path: Path) -> Path:
    """A history of three recorded audits; returns the database file."""
    db = default_db_path(tmp_path / "reports")
    for i, bundle in enumerate(bundles):
        _record(db, bundle, i)
    return db


def _raw(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run SQL on the file with sqlite3 directly (the way someone would edit it), committing at once."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(sql, params).fetchall()
    conn.close()
    return rows


def _rows(db: Path) -> list[dict[str, object]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = [dict(row) for row in conn.execute("SELECT * FROM records ORDER BY seq")]
    conn.close()
    return rows


def _hash_by_hand(row: dict[str, object]) -> str:
    """record_hash as documented: SHA-256 of sorted, compact, UTF-8 JSON of every column but record_hash."""
    canonical = json.dumps({k: row[k] for k in HASHED}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# What is written


def test_a_chain_of_three_records_verifies_with_its_bundles(chain: Path, bundles: list[Path]) -> None:
    check = verify_history(db_path=chain)
    assert check == HistoryCheck(ok=True, problems=[], n_records=3)
    assert [r.seq for r in records(db_path=chain)] == [1, 2, 3]


def test_each_row_is_what_the_documentation_says_computed_by_hand(chain: Path, bundles: list[Path]) -> None:
    rows = _rows(chain)
    assert [row["seq"] for row in rows] == [1, 2, 3]
    prev = "0" * 64
    for i, (row, bundle) in enumerate(zip(rows, bundles, strict=True)):
        assert row["kind"] == "run"
        assert row["system"] == "Credit scoring (Kreditwürdigkeit)"
        assert (row["version"], row["audit_date"], row["verdict"]) == (f"1.{i}", f"2026-11-2{i}", VERDICTS[i])
        assert row["bundle_path"] == str(bundle.absolute())
        assert row["manifest_sha256"] == hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
        assert row["counts"] == json.dumps(COUNTS[i], sort_keys=True, separators=(",", ":"))
        assert row["prev_hash"] == prev
        assert row["record_hash"] == _hash_by_hand(row)
        assert str(row["recorded_at"]).endswith("Z") and len(str(row["recorded_at"])) == len("2026-11-22T10:15:00Z")
        prev = str(row["record_hash"])
    # None stays null (never 0) in the stored text, and 0.0 stays 0.0
    assert rows[0]["headline"] == '{"accuracy":0.74,"impact_ratio_min":0.81,"lime_fidelity":null}'
    assert rows[2]["headline"] == '{"accuracy":0.0,"impact_ratio_min":null}'
    # the head: the last record's seq and hash
    assert _raw(chain, "SELECT seq, record_hash FROM head") == [(3, prev)]


def test_record_returns_the_stored_record_and_the_new_head_hash(bundles: list[Path], tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    first = _record(db, bundles[0], 0)
    second = _record(db, bundles[1], 1, kind="diff")
    assert first.prev_hash == GENESIS_HASH == "0" * 64
    assert second.prev_hash == first.record_hash
    assert _raw(db, "SELECT record_hash FROM head") == [(second.record_hash,)]
    assert records(db_path=db) == [first, second]
    assert second.kind == "diff"
    assert first.headline == {"accuracy": 0.74, "impact_ratio_min": 0.81, "lime_fidelity": None}
    assert first.counts == COUNTS[0]
    assert first.bundle_path == bundles[0].absolute()


def test_default_db_path() -> None:
    assert default_db_path(Path("reports")) == Path("reports") / "audit-history.sqlite"


# ---------------------------------------------------------------------------
# Tampering with the database


def test_deleting_the_middle_record_is_detected(chain: Path) -> None:
    _raw(chain, "DELETE FROM records WHERE seq = 2")
    check = verify_history(db_path=chain, verify_bundles=False)
    assert not check.ok and check.n_records == 2
    assert check.problems == [
        "record 3: follows record 1: record(s) 2 deleted?",
        "record 3: previous-hash link broken: record 2 deleted or edited?",
    ]


def test_deleting_the_last_record_is_detected_by_the_head(chain: Path) -> None:
    _raw(chain, "DELETE FROM records WHERE seq = 3")
    check = verify_history(db_path=chain, verify_bundles=False)
    assert check.problems == [
        "record 3: named by the head as the latest, but the last record is 2: record(s) 3 deleted?"
    ]
    # and nothing more can be appended on top of it, which would move the head and bury the deletion
    with pytest.raises(AuditInputError) as caught:
        record(db_path=chain, kind="run", bundle_dir=Path(str(_rows(chain)[0]["bundle_path"])), system="s",
               version="1", audit_date="2026-11-30", verdict="PASS", counts={}, headline={})
    assert caught.value.template == HISTORY_BROKEN
    assert len(_rows(chain)) == 2


def test_emptying_the_head_is_detected(chain: Path) -> None:
    _raw(chain, "DELETE FROM head")
    assert verify_history(db_path=chain, verify_bundles=False).problems == [
        "the head (latest record and its hash) is missing (table head emptied or dropped?), so deleting the last "
        "record(s) cannot be ruled out"
    ]


def test_editing_a_verdict_is_detected_naming_that_record(chain: Path) -> None:
    _raw(chain, "UPDATE records SET verdict = 'PASS' WHERE seq = 1")
    check = verify_history(db_path=chain, verify_bundles=False)
    assert check.problems == ["record 1: its hash does not match its content (edited?)"]
    assert records(db_path=chain)[0].verdict == "PASS"  # records() shows what is stored; verify says it is wrong


def test_editing_and_rehashing_one_record_breaks_the_next_link(chain: Path) -> None:
    row = _rows(chain)[1]
    row["verdict"] = "FAIL"
    _raw(chain, "UPDATE records SET verdict = 'FAIL', record_hash = ? WHERE seq = 2", (_hash_by_hand(row),))
    assert verify_history(db_path=chain, verify_bundles=False).problems == [
        "record 3: previous-hash link broken: record 2 deleted or edited?"
    ]


def test_editing_and_rehashing_the_last_record_is_caught_by_the_head(chain: Path) -> None:
    row = _rows(chain)[2]
    row["headline"] = '{"accuracy":0.99,"impact_ratio_min":null}'
    _raw(chain, "UPDATE records SET headline = ?, record_hash = ? WHERE seq = 3", (row["headline"], _hash_by_hand(row)))
    assert verify_history(db_path=chain, verify_bundles=False).problems == [
        "record 3: its hash differs from the head's (edited and re-hashed?)"
    ]


def test_a_consistent_rewrite_passes_which_is_why_the_head_must_be_anchored_outside(chain: Path) -> None:
    """What the docstring admits: whoever rewrites every hash and the head gets a history that verifies."""
    head_before = _raw(chain, "SELECT record_hash FROM head")[0][0]
    prev = "0" * 64
    for row in _rows(chain):
        row["verdict"] = "PASS"
        row["prev_hash"] = prev
        prev = _hash_by_hand(row)
        _raw(chain, "UPDATE records SET verdict = 'PASS', prev_hash = ?, record_hash = ? WHERE seq = ?",
             (row["prev_hash"], prev, row["seq"]))
    _raw(chain, "UPDATE head SET record_hash = ?", (prev,))
    assert verify_history(db_path=chain, verify_bundles=False).ok
    assert prev != head_before  # an anchored copy of the old head hash is what shows the rewrite


# ---------------------------------------------------------------------------
# Tampering with the bundles


def test_editing_a_manifest_after_recording_is_detected(chain: Path, bundles: list[Path]) -> None:
    manifest = bundles[1] / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"seed": 42', b'"seed": 43'))
    check = verify_history(db_path=chain)
    where = bundles[1].absolute()
    assert check.problems[0] == f"record 2: {where}: manifest.json changed since it was recorded (its SHA-256 differs)"
    # verify_bundle's own finding is passed on, naming the record too
    assert f"record 2: {where}: manifest.json: signature does not verify (manifest.sig); the manifest was changed" in (
        check.problems
    )
    assert all(problem.startswith("record 2: ") for problem in check.problems)
    assert verify_history(db_path=chain, verify_bundles=False).ok  # the chain itself is intact


def test_a_file_of_a_bundle_changed_is_reported_by_verify_bundle(chain: Path, bundles: list[Path]) -> None:
    (bundles[2] / "audit.json").write_text('{"schema_version": "1.0", "run": 99}', encoding="utf-8")
    assert verify_history(db_path=chain).problems == [
        f"record 3: {bundles[2].absolute()}: audit.json: sha256 differs from manifest"
    ]


def test_a_bundle_moved_away_is_a_problem_not_a_pass(chain: Path, bundles: list[Path], tmp_path: Path) -> None:
    shutil.move(bundles[0], tmp_path / "elsewhere")
    check = verify_history(db_path=chain)
    assert check.problems == [f"record 1: bundle no longer at {bundles[0].absolute()}"]
    assert verify_history(db_path=chain, verify_bundles=False).ok


# ---------------------------------------------------------------------------
# Refusals


def test_a_folder_without_manifest_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-bundle"
    folder.mkdir()
    db = tmp_path / "h.sqlite"
    with pytest.raises(AuditInputError) as caught:
        record(db_path=db, kind="run", bundle_dir=folder, system="s", version="1", audit_date="2026-11-22",
               verdict="PASS", counts={}, headline={})
    assert caught.value.template == HISTORY_MANIFEST_MISSING
    assert str(caught.value) == HISTORY_MANIFEST_MISSING.format(path=folder.absolute())
    assert "\n" not in str(caught.value)
    assert not db.exists()


def test_a_file_that_is_not_sqlite_is_refused_naming_it_and_left_alone(bundles: list[Path], tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    junk = b"this is not a database, " * 100
    db.write_bytes(junk)
    for call in (lambda: _record(db, bundles[0], 0), lambda: records(db_path=db), lambda: verify_history(db_path=db)):
        with pytest.raises(AuditInputError) as caught:
            call()
        assert caught.value.template == HISTORY_NOT_A_DATABASE
        assert str(caught.value).startswith(f"{db}: not a SQLite database (")
        assert "\n" not in str(caught.value)
    assert db.read_bytes() == junk


def test_a_sqlite_file_without_the_history_tables_is_refused(bundles: list[Path], tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    _raw(db, "CREATE TABLE customers (id INTEGER)")
    for call in (lambda: _record(db, bundles[0], 0), lambda: records(db_path=db), lambda: verify_history(db_path=db)):
        with pytest.raises(AuditInputError) as caught:
            call()
        assert str(caught.value) == HISTORY_NOT_A_HISTORY.format(path=db, problem="it has no table 'records'")
    assert _raw(db, "SELECT name FROM sqlite_master") == [("customers",)]


def test_a_dropped_head_table_is_reported_and_not_silently_recreated(chain: Path, bundles: list[Path]) -> None:
    _raw(chain, "DROP TABLE head")
    assert not verify_history(db_path=chain, verify_bundles=False).ok
    with pytest.raises(AuditInputError) as caught:
        _record(chain, bundles[0], 0)
    assert str(caught.value) == HISTORY_NOT_A_HISTORY.format(path=chain, problem="it has no table 'head'")


def test_reading_a_missing_history_does_not_create_it(tmp_path: Path) -> None:
    db = tmp_path / "none.sqlite"
    for call in (lambda: records(db_path=db), lambda: verify_history(db_path=db)):
        with pytest.raises(AuditInputError) as caught:
            call()
        assert caught.value.template == FILE_NOT_FOUND
    assert not db.exists()


def test_a_figure_that_is_not_a_number_is_refused(bundles: list[Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="record a figure not measured as None"):
        record(db_path=tmp_path / "h.sqlite", kind="run", bundle_dir=bundles[0], system="s", version="1",
               audit_date="2026-11-22", verdict="PASS", counts={}, headline={"accuracy": float("nan")})


# ---------------------------------------------------------------------------
# Concurrency


def test_concurrent_writers_make_one_unbroken_chain(bundles: list[Path], tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    def writer(w: int) -> None:
        for i in range(5):
            record(db_path=db, kind="run", bundle_dir=bundles[w % 3], system=f"writer {w}", version=str(i),
                   audit_date="2026-11-22", verdict="PASS", counts={"PASS": i}, headline={})

    with ThreadPoolExecutor(max_workers=4) as pool:  # a writer's exception is kept by its future
        futures = [pool.submit(writer, w) for w in range(4)]
    errors = [f.exception() for f in futures if f.exception() is not None]
    assert errors == []
    rows = _rows(db)
    assert [row["seq"] for row in rows] == list(range(1, 21))
    assert len({row["prev_hash"] for row in rows}) == 20
    assert all(row["prev_hash"] == before["record_hash"] for before, row in zip(rows, rows[1:], strict=False))
    assert verify_history(db_path=db, verify_bundles=False) == HistoryCheck(ok=True, problems=[], n_records=20)
