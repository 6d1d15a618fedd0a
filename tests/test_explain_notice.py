"""The notice of main reasons for one decision (`audit explain BUNDLE --id ROW`), text and one-page PDF."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from audit.errors import AuditInputError


@pytest.fixture(scope="module")
def bundle(german_subject, tmp_path_factory):
    """A bundle folder as the pipeline writes it: decisions.parquet (+ a recourse column) and audit.json."""
    from audit.checks import CheckContext, local

    spec = german_subject.spec.model_copy(
        update={"explanations": german_subject.spec.explanations.model_copy(update={"lime_sample": 0})})
    subject = dataclasses.replace(german_subject, spec=spec)
    ctx = CheckContext(spec=spec, seed=spec.seed)
    evidence = local.run(subject, ctx)
    folder = tmp_path_factory.mktemp("bundle")
    recourse = np.where(subject.predictions.decision, None, "a loan duration of 12 months or less")
    frame = pd.DataFrame({"id": subject.ids, "decision": subject.predictions.decision, "score": subject.predictions.score,
                          **ctx.decision_columns, "recourse": recourse})
    frame.to_parquet(folder / "decisions.parquet", index=False)
    audit = {"system": spec.system.model_dump(mode="json"), "audit_date": "2026-11-22",
             "evidence": [e.model_dump(mode="json") for e in evidence]}
    (folder / "audit.json").write_text(json.dumps(audit), encoding="utf-8")
    return folder, frame


def _rejected(frame: pd.DataFrame) -> pd.Series:
    return frame[~frame["decision"]].iloc[0]


def test_text_notice_names_the_top_reason_and_how_to_contest(bundle):
    from audit.explain.notice import render_notice

    folder, frame = bundle
    row = _rejected(frame)
    shap_columns = [c for c in frame.columns if c.startswith("shap:")]
    top = shap_columns[int(np.argmin(row[shap_columns].to_numpy(dtype=float)))][5:]  # most negative contribution
    text = render_notice(bundle_dir=folder, decision_id=row["id"], fmt="text", out=None)
    assert row["id"] in text and "negative decision" in text
    assert f"1. {top.replace('_', ' ')}: " in text  # no code book in this bundle: the column's name in words
    assert "reviewed by a person" in text and "Example Bank AG" in text
    assert "What would change it: a loan duration of 12 months or less" in text
    approved = frame[frame["decision"]].iloc[0]
    assert "What would change it" not in render_notice(bundle_dir=folder, decision_id=approved["id"], fmt="text")


def test_pdf_notice_is_one_page_with_the_persons_id(bundle, tmp_path):
    from pypdf import PdfReader

    from audit.explain.notice import render_notice

    folder, frame = bundle
    row = _rejected(frame)
    path = render_notice(bundle_dir=folder, decision_id=row["id"], fmt="pdf", out=tmp_path / "notice.pdf")
    reader = PdfReader(str(path))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert row["id"] in text and "German credit scoring" in text and "2026-11-22" in text
    assert f"{row['reason_1_feature'].replace('_', ' ')}: {row['reason_1_value']}" in text


def test_unknown_id_is_a_one_line_input_error(bundle):
    from audit.explain.notice import render_notice

    folder, _ = bundle
    with pytest.raises(AuditInputError) as caught:
        render_notice(bundle_dir=folder, decision_id="no-such-person", fmt="text")
    message = str(caught.value)
    assert "no-such-person" in message and "\n" not in message
    with pytest.raises(AuditInputError):
        render_notice(bundle_dir=folder / "missing", decision_id="A0001", fmt="text")
