"""The audit history as `audit run` and `audit history` use it (issue 14, item 3).

Two real signed runs of the German credit decision log are recorded; the second bundle's signed manifest
anchors the first record's hash. A rewrite of the first record that keeps the chain consistent (every hash
recomputed by hand with hashlib, the head moved) passes the chain alone, and is caught by that anchor.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from audit.cli import app
from audit.history import ANCHOR_KEY, HISTORY_BROKEN, records, verify_history
from audit.history._ledger import _HASHED
from audit.pipeline import run_audit

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"


def _spec(tmp: Path, signing: dict[str, str]) -> Path:
    spec = yaml.safe_load((EXAMPLE / "decisions-only.yaml").read_text())
    spec["data"]["path"] = str(EXAMPLE / spec["data"]["path"])
    spec["signing"] = signing
    spec["fairness"] = {**spec.get("fairness", {}), "bootstrap": 100}
    spec["output"] = str(tmp / "reports")
    path = tmp / "audit.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, signing_pair: dict[str, str]) -> tuple[Path, list[Path]]:
    tmp = tmp_path_factory.mktemp("history")
    spec = _spec(tmp, signing_pair)
    db = tmp / "reports" / "audit-history.sqlite"
    bundles = [run_audit(spec, history=db).bundle_dir for _ in range(2)]
    return db, bundles


def _rehash(row: dict[str, object]) -> str:
    """A record's hash computed by hand: SHA-256 of its hashed columns as sorted compact JSON."""
    body = json.dumps({k: row[k] for k in _HASHED}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def test_runs_are_recorded_and_anchored(two_runs: tuple[Path, list[Path]]) -> None:
    db, bundles = two_runs
    found = records(db_path=db)
    assert [r.seq for r in found] == [1, 2]
    for r, bundle in zip(found, bundles, strict=True):
        assert r.bundle_path == bundle.absolute()
        assert r.manifest_sha256 == hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
        result = json.loads((bundle / "audit.json").read_text())
        assert r.verdict == result["verdict"] and r.counts == result["counts"]
        accuracy = next(e for e in result["evidence"] if e["id"] == "performance.overall")["metrics"]["accuracy"]
        assert r.headline["performance.overall.accuracy"] == accuracy
        assert r.headline["local.shap.coverage"] is None  # no model: not measured, never 0
    anchors = [json.loads((b / "manifest.json").read_text())["audit"][ANCHOR_KEY] for b in bundles]
    assert anchors == [None, {"seq": 1, "record_hash": found[0].record_hash}]
    assert verify_history(db_path=db).ok


def test_consistent_rewrite_is_caught_by_the_signed_anchor(two_runs: tuple[Path, list[Path]], tmp_path: Path) -> None:
    db, _ = two_runs
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(db.read_bytes())
    conn = sqlite3.connect(copy)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM records ORDER BY seq")]
    rows[0]["verdict"] = "PASS" if rows[0]["verdict"] != "PASS" else "FAIL"
    rows[0]["record_hash"] = _rehash(rows[0])
    rows[1]["prev_hash"] = rows[0]["record_hash"]
    rows[1]["record_hash"] = _rehash(rows[1])
    for row in rows:
        conn.execute("UPDATE records SET verdict=?, prev_hash=?, record_hash=? WHERE seq=?",
                     (row["verdict"], row["prev_hash"], row["record_hash"], row["seq"]))
    conn.execute("UPDATE head SET record_hash=?", (rows[1]["record_hash"],))
    conn.commit()
    conn.close()
    assert verify_history(db_path=copy, verify_bundles=False).ok  # the chain alone cannot see it
    check = verify_history(db_path=copy)
    assert not check.ok
    assert any(p.startswith("record 2: its bundle was sealed after record 1 with hash") for p in check.problems)


def test_cli_history_verify_and_a_broken_history_refused_before_work(two_runs: tuple[Path, list[Path]],
                                                                      tmp_path: Path,
                                                                      signing_pair: dict[str, str]) -> None:
    db, _ = two_runs
    runner = CliRunner()
    listed = runner.invoke(app, ["history", "--db", str(db), "--verify"])
    assert listed.exit_code == 0, listed.output
    assert "history verified: 2 records, 0 problems" in listed.output
    copy = tmp_path / "broken.sqlite"
    copy.write_bytes(db.read_bytes())
    with sqlite3.connect(copy) as conn:
        conn.execute("DELETE FROM records WHERE seq = 1")
    broken = runner.invoke(app, ["history", "--db", str(copy), "--verify"])
    assert broken.exit_code == 1 and "history NOT verified" in broken.output
    refused = runner.invoke(app, ["run", str(_spec(tmp_path, signing_pair)), "--history", str(copy)])
    assert refused.exit_code == 2
    assert HISTORY_BROKEN.split("{problem}")[0].format(path=copy) in refused.output.replace("\n", "")
    assert not (tmp_path / "reports").exists()  # refused before any work: no bundle


def test_cli_default_history_and_no_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            signing_pair: dict[str, str]) -> None:
    """Which database the CLI hands the pipeline: beside the spec's output by default, none with --no-history."""
    import audit.pipeline

    seen: list[Path | None] = []

    def stop(spec: Path, **kwargs: object) -> None:
        seen.append(kwargs["history"])  # type: ignore[arg-type]
        raise SystemExit(7)

    monkeypatch.setattr(audit.pipeline, "run_audit", stop)
    spec = _spec(tmp_path, signing_pair)
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(spec)]).exit_code == 7
    assert runner.invoke(app, ["run", str(spec), "--no-history"]).exit_code == 7
    assert runner.invoke(app, ["run", str(spec), "--history", str(tmp_path / "h.sqlite")]).exit_code == 7
    assert seen == [tmp_path / "reports" / "audit-history.sqlite", None, tmp_path / "h.sqlite"]
