"""Predictions-only audits check their decision inputs against the data when it is loaded (issue 9).

A typo in ``data.decision.positive_values`` used to audit zero positive decisions, and a score column
holding text, NaN or inf crashed later. Each is now a one-line AuditInputError naming the column, found
before the model (if any) is loaded and before any prediction is computed. Scores keep their own scale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from audit.errors import (
    DECISION_SCORE_NOT_FINITE,
    DECISION_SCORE_NOT_NUMERIC,
    DECISION_VALUES_NOT_FOUND,
    AuditInputError,
)
from audit.spec import load_spec
from audit.subject import load_subject

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"
DECISIONS = EXAMPLE / "german_credit_decisions.csv"


def _spec(tmp_path: Path, *, decision: dict, data_path: Path = DECISIONS, model: dict | None = None) -> Path:
    """The bundled decisions-only example spec in tmp_path, unsigned, with its decision block replaced."""
    spec = yaml.safe_load((EXAMPLE / "decisions-only.yaml").read_text())
    spec["data"]["path"] = str(data_path)
    spec["data"]["decision"] = decision
    if model is not None:
        spec["model"] = model
    spec.pop("signing")
    spec["output"] = str(tmp_path / "reports")
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _data_with(tmp_path: Path, **columns: object) -> tuple[Path, pd.DataFrame]:
    """The decisions file with some columns replaced, written to tmp_path."""
    data = pd.read_csv(DECISIONS)
    for name, values in columns.items():
        data[name] = values
    path = tmp_path / "decisions.csv"
    data.to_csv(path, index=False)
    return path, data


def test_the_bundled_decision_log_loads(tmp_path: Path) -> None:
    data = pd.read_csv(DECISIONS)
    subject = load_subject(load_spec(_spec(tmp_path, decision={"column": "decision", "positive_values": ["approve"],
                                                               "score_column": "score"})))
    assert np.array_equal(subject.predictions.decision, (data["decision"] == "approve").to_numpy())
    np.testing.assert_array_equal(subject.predictions.score, data["score"].to_numpy())


@pytest.mark.parametrize("values", [["aprove"], ["approve", "aprove"]])
def test_positive_value_that_does_not_occur_is_refused(tmp_path: Path, values: list[str]) -> None:
    """A typo used to audit 0 positive decisions without a word."""
    spec_path = _spec(tmp_path, decision={"column": "decision", "positive_values": values, "score_column": "score"})
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(spec_path))
    assert caught.value.template == DECISION_VALUES_NOT_FOUND
    assert str(caught.value) == DECISION_VALUES_NOT_FOUND.format(
        path=DECISIONS, missing="'aprove'", column="decision", available="approve, reject")


def test_decision_values_compared_as_text(tmp_path: Path) -> None:
    """A 0/1 decision column matches positive_values [1], ["1"] and [true] alike."""
    data = pd.read_csv(DECISIONS)
    coded = (data["decision"] == "approve").astype(int)
    path, _ = _data_with(tmp_path, decision=coded)
    for positive in (1, "1", True):
        subject = load_subject(load_spec(_spec(tmp_path, data_path=path,
                                               decision={"column": "decision", "positive_values": [positive]})))
        assert np.array_equal(subject.predictions.decision, coded.to_numpy() == 1), positive


def test_many_values_are_shown_at_most_eight(tmp_path: Path) -> None:
    path, _ = _data_with(tmp_path, decision=[f"code{i % 12:02d}" for i in range(len(pd.read_csv(DECISIONS)))])
    spec_path = _spec(tmp_path, data_path=path, decision={"column": "decision", "positive_values": ["code99"]})
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(spec_path))
    shown = caught.value.fields["available"]
    assert shown == ", ".join(f"code{i:02d}" for i in range(8)) + " ..."


def test_decision_inputs_are_checked_before_the_model_is_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad input is found before any work: the model is never loaded, no prediction computed."""
    import audit.subject

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the decision inputs were checked")

    monkeypatch.setattr(audit.subject, "load_model", no_model)
    spec_path = _spec(tmp_path, decision={"column": "decision", "positive_values": ["aprove"]},
                      model={"path": str(EXAMPLE / "model.skops"), "format": "skops"})
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(spec_path))
    assert caught.value.template == DECISION_VALUES_NOT_FOUND


def test_text_score_column_is_refused(tmp_path: Path) -> None:
    """Scores exported as percentages ("97%") are text, not numbers."""
    scores = pd.read_csv(DECISIONS)["score"]
    path, data = _data_with(tmp_path, score=[f"{s:.0%}" for s in scores])
    spec_path = _spec(tmp_path, data_path=path, decision={"column": "decision", "positive_values": ["approve"],
                                                         "score_column": "score"})
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(spec_path))
    assert caught.value.template == DECISION_SCORE_NOT_NUMERIC
    first = data["score"].iloc[0]
    assert str(caught.value) == DECISION_SCORE_NOT_NUMERIC.format(
        path=path, column="score", value=first, row=f"row 1 (applicant_id {data['applicant_id'].iloc[0]})")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_missing_or_infinite_score_is_refused(tmp_path: Path, bad: float) -> None:
    scores = pd.read_csv(DECISIONS)["score"].copy()
    scores.iloc[41] = bad
    path, data = _data_with(tmp_path, score=scores)
    spec_path = _spec(tmp_path, data_path=path, decision={"score_column": "score", "cutoff": 0.5})
    with pytest.raises(AuditInputError) as caught:
        load_subject(load_spec(spec_path))
    assert caught.value.template == DECISION_SCORE_NOT_FINITE
    assert str(caught.value) == DECISION_SCORE_NOT_FINITE.format(
        path=path, column="score", value=bad, row=f"row 42 (applicant_id {data['applicant_id'].iloc[41]})")


def test_score_on_its_own_scale_with_a_cutoff(tmp_path: Path) -> None:
    """A credit score on 300–850 with a cutoff of 600: decisions are score >= 600, scores are kept as given."""
    scores = pd.read_csv(DECISIONS)["score"]
    path, data = _data_with(tmp_path, credit_score=(300 + 550 * scores).round().astype(int))
    spec_path = _spec(tmp_path, data_path=path, decision={"score_column": "credit_score", "cutoff": 600})
    subject = load_subject(load_spec(spec_path))
    expected = (data["credit_score"] >= 600).to_numpy()
    assert 0 < expected.sum() < len(expected)
    assert np.array_equal(subject.predictions.decision, expected)
    np.testing.assert_array_equal(subject.predictions.score, data["credit_score"].to_numpy(dtype=float))


def test_cli_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """`audit run` on a typo in positive_values: exit 2, one line naming the field, no folder under the output."""
    spec_path = _spec(tmp_path, decision={"column": "decision", "positive_values": ["aprove"], "score_column": "score"})
    audit_command = Path(sys.executable).with_name("audit")
    result = subprocess.run([str(audit_command), "run", str(spec_path)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 2, result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and "data.decision.positive_values" in lines[0] and "'aprove'" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    output = tmp_path / "reports"
    assert not output.exists() or not any(p.is_dir() for p in output.iterdir())
