"""Evidence oversight.decision_log (issue 14, item 5): overrides and appeals by group, against pandas.

The German credit decision log with GENERATED columns (seeded, in a temporary copy): a final decision in which
officers reverse 10 % of rejections for men and 3 % for women, and an appeal flag with whether the appeal changed
the decision. The figures are recomputed with pandas from the same columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import audit.checks.oversight as oversight
from audit.checks._base import CheckContext
from audit.errors import AuditInputError
from audit.spec import load_spec
from audit.subject import load_subject

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"


def _data() -> pd.DataFrame:
    data = pd.read_csv(EXAMPLE / "german_credit_decisions.csv")
    rng = np.random.default_rng(3)
    rejected = (data["decision"] == "reject").to_numpy()
    men = (data["sex"] == "male").to_numpy()
    reverse = rejected & (rng.random(len(data)) < np.where(men, 0.10, 0.03))  # GENERATED
    data["final"] = np.where(reverse, "approve", data["decision"])  # GENERATED
    data["appealed"] = np.where(rejected & (rng.random(len(data)) < 0.2), "yes", "no")  # GENERATED
    data["appeal_changed"] = np.where(data["appealed"] == "yes", np.where(reverse, "true", "false"), "")
    return data


def _subject(tmp: Path, data: pd.DataFrame):  # noqa: ANN202 - Subject
    data.to_csv(tmp / "log.csv", index=False)
    spec = yaml.safe_load((EXAMPLE / "decisions-only.yaml").read_text())
    spec["data"]["path"] = "log.csv"
    spec["data"]["decision_log"] = {"final_decision": "final", "final_positive_values": ["approve"],
                                    "appealed": "appealed", "appeal_changed": "appeal_changed"}
    spec.pop("signing", None)
    spec["fairness"] = {"bootstrap": 200}
    (tmp / "audit.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return load_subject(load_spec(tmp / "audit.yaml"))


def test_override_and_appeal_rates_match_pandas(tmp_path: Path) -> None:
    data = _data()
    subject = _subject(tmp_path, data)
    [ev] = oversight.run(subject, CheckContext(spec=subject.spec, seed=0))
    changed = data["final"] != data["decision"]
    rejected = data["decision"] == "reject"
    assert ev.metrics["override_rate"] == pytest.approx(changed.mean(), abs=1e-12)
    assert ev.metrics["override_to_favourable_rate"] == pytest.approx(changed[rejected].mean(), abs=1e-12)
    assert ev.metrics["override_to_adverse_rate"] == 0.0
    appealed = data["appealed"] == "yes"
    assert ev.metrics["appeal_rate"] == pytest.approx(appealed.mean(), abs=1e-12)
    assert ev.metrics["appeal_change_rate"] == pytest.approx((data.loc[appealed, "appeal_changed"] == "true").mean(),
                                                             abs=1e-12)
    rows = {(r["attribute"], r["group"]): r for r in ev.tables[0].records()}
    by_sex = changed.groupby(data["sex"]).mean()
    for sex in ("male", "female"):
        assert rows[("sex", sex)]["override rate"] == pytest.approx(by_sex[sex], abs=1e-12)
    assert ev.metrics["max_override_rate_gap"] >= abs(by_sex["male"] - by_sex["female"]) - 1e-12


def test_without_log_not_assessed_and_bad_flag_refused(tmp_path: Path) -> None:
    data = _data()
    subject = _subject(tmp_path, data)
    subject.spec.data.decision_log = None
    [ev] = oversight.run(subject, CheckContext(spec=subject.spec, seed=0))
    assert ev.status == "not_assessed" and ev.reason == oversight.NO_LOG
    data.loc[5, "appealed"] = "perhaps"
    with pytest.raises(AuditInputError, match=r"data.decision_log \(appealed\).*row 6 holds 'perhaps'"):
        _subject(tmp_path, data)  # refused when the data is read, before any check runs
