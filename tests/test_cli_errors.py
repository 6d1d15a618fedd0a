"""Bad input exits 2 with one line naming the problem, no traceback, and no bundle left behind.

Each case runs the real `audit` command in a subprocess, as a user would.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from audit import errors

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"


def _spec(tmp_path: Path, **changes: object) -> Path:
    """A copy of the example spec in tmp_path with absolute paths and some fields changed."""
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(EXAMPLE / "german_credit.csv")
    spec["attestations_file"] = str(EXAMPLE / "attestations.yaml")
    spec.pop("signing")
    spec["output"] = str(tmp_path / "reports")
    for dotted, value in changes.items():
        node = spec
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str, tmp_path: Path) -> None:
    assert result.returncode == 2, result.stderr + result.stdout
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in result.stderr + result.stdout
    assert len(" ".join(lines)) > 0 and lines[0].startswith("error:")
    message = " ".join(line.strip() for line in lines)  # rich may wrap one logical line on narrow terminals
    for fragment in fragments:
        assert fragment in message, message
    reports = tmp_path / "reports"
    assert not reports.exists() or not any(p for p in reports.rglob("*") if p.is_file()), "a bundle was left behind"


def test_missing_spec_file(tmp_path: Path) -> None:
    result = _run("run", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    _assert_one_line_error(result, "audit spec not found", "nope.yaml", tmp_path=tmp_path)


def test_malformed_yaml(tmp_path: Path) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text("system:\n  name: x\n   version: [unclosed\n")
    result = _run("run", str(path), cwd=tmp_path)
    _assert_one_line_error(result, "audit.yaml", "not valid YAML at line", tmp_path=tmp_path)


def test_missing_data_file(tmp_path: Path) -> None:
    result = _run("run", str(_spec(tmp_path, **{"data.path": str(tmp_path / "missing.csv")})), cwd=tmp_path)
    _assert_one_line_error(result, "data file not found", "missing.csv", tmp_path=tmp_path)


def test_unknown_target_column(tmp_path: Path) -> None:
    result = _run("run", str(_spec(tmp_path, **{"data.target": "credit_riskk"})), cwd=tmp_path)
    _assert_one_line_error(result, "column 'credit_riskk'", "data.target", tmp_path=tmp_path)


def test_unknown_protected_column(tmp_path: Path) -> None:
    result = _run("run", str(_spec(tmp_path, **{"data.protected": ["gender"]})), cwd=tmp_path)
    _assert_one_line_error(result, "column 'gender'", "data.protected", tmp_path=tmp_path)


def test_pickle_without_trust(tmp_path: Path) -> None:
    import skops.io as sio

    model = sio.load(EXAMPLE / "model.skops", trusted=sio.get_untrusted_types(file=EXAMPLE / "model.skops"))
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(model))
    result = _run("run", str(_spec(tmp_path, **{"model.path": str(pickled), "model.format": "pickle"})), cwd=tmp_path)
    _assert_one_line_error(result, "model.pkl", "arbitrary code", "--trust-model", tmp_path=tmp_path)


def test_empty_data(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    pd.read_csv(EXAMPLE / "german_credit.csv").head(0).to_csv(empty, index=False)
    result = _run("run", str(_spec(tmp_path, **{"data.path": str(empty)})), cwd=tmp_path)
    _assert_one_line_error(result, "empty.csv", "no rows", tmp_path=tmp_path)


def test_target_with_one_class(tmp_path: Path) -> None:
    one = tmp_path / "one_class.csv"
    data = pd.read_csv(EXAMPLE / "german_credit.csv")
    data[data["credit_risk"] == "good"].to_csv(one, index=False)
    result = _run("run", str(_spec(tmp_path, **{"data.path": str(one)})), cwd=tmp_path)
    _assert_one_line_error(result, "one_class.csv", "only one class", "'good'", tmp_path=tmp_path)


def test_unknown_spec_field_names_the_field(tmp_path: Path) -> None:
    result = _run("run", str(_spec(tmp_path, **{"system.role": "owner"})), cwd=tmp_path)
    _assert_one_line_error(result, "field 'system.role'", tmp_path=tmp_path)


def test_verify_on_a_folder_that_is_no_bundle(tmp_path: Path) -> None:
    result = _run("verify", str(tmp_path), cwd=tmp_path)
    _assert_one_line_error(result, "not an audit bundle", tmp_path=tmp_path)


def test_message_constants_are_what_users_see() -> None:
    """Named constants format to the exact text the CLI prints."""
    exc = errors.AuditInputError(errors.DATA_EMPTY, path="x.csv")
    assert str(exc) == "x.csv: the data has no rows; give a file with at least one decision"


def test_help_is_instant_and_imports_nothing_heavy() -> None:
    code = "import sys, audit.cli; print(sorted(m for m in ('torch', 'shap', 'sklearn', 'weasyprint') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
