"""Partitioned audits (issue 16): counts over every row merged from partitions, a partition-independent sample.

Data: the first 8,000 rows of the Adult hiring example (examples/adult-hiring/adult.parquet, UCI Adult, CC BY 4.0)
written as a Parquet dataset of two files with row groups of 1,000 rows. Counts are checked against pandas on the
model's own predictions (skops + scikit-learn, not our adapter); the audit's figures whole, in 8 partitions on local
processes and on a 2-worker Dask LocalCluster are compared with each other and with the in-memory audit's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from audit.checks import CheckContext
from audit.errors import WORKER_LIBRARY_MISSING, AuditInputError
from audit.sample import sample_positions
from audit.scale import Partitioned, count_partitions, plan_partitions, read_partition
from audit.spec import AuditSpec, load_spec
from audit.subject import Subject

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "adult-hiring"
ROWS, GROUP_ROWS = 8_000, 1_000


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the spec, the model and the data: one Parquet file of 8 row groups of 1,000 rows."""
    folder = tmp_path_factory.mktemp("scale")
    table = pq.read_table(EXAMPLE / "adult.parquet").slice(0, ROWS)
    pq.write_table(table, folder / "adult-8k.parquet", row_group_size=GROUP_ROWS)
    shutil.copy(EXAMPLE / "model.skops", folder)
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec.pop("signing", None)
    spec["data"]["path"] = "adult-8k.parquet"
    spec["fairness"]["bootstrap"] = 200
    spec["explanations"] = {"lime_sample": 20}
    spec["scale"] = {"partition_rows": GROUP_ROWS, "sample_rows": 1_500, "workers": 2}
    (folder / "audit.yaml").write_text(yaml.safe_dump(spec))
    return folder


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A Dask LocalCluster of 2 single-threaded worker processes; its scheduler address."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield str(local.scheduler_address)


@pytest.fixture(scope="module")
def eight(dataset: Path) -> Partitioned:
    """The 8,000 rows read in 8 partitions on 2 local processes."""
    return count_partitions(_spec(dataset), target_rows=GROUP_ROWS, sample_rows=1_500, workers=2)


def _spec(folder: Path, **scale: Any) -> AuditSpec:
    spec = load_spec(folder / "audit.yaml")
    return spec.model_copy(update={"scale": spec.scale.model_copy(update=scale)}) if spec.scale and scale else spec


def _model_decisions(folder: Path, frame: pd.DataFrame) -> np.ndarray:
    """The example model's decisions by scikit-learn itself (skops load, predict): positive = ">50K"."""
    import skops.io

    path = folder / "model.skops"
    model = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    return np.asarray(model.predict(frame[list(model.feature_names_in_)]) == ">50K")


def _in_memory(folder: Path) -> tuple[AuditSpec, Subject]:
    """The spec without ``scale`` on the same 8,000 rows in one file, and their Subject (one process)."""
    from audit.subject import load_subject

    pq.read_table(folder / "adult-8k.parquet").to_pandas().to_parquet(folder / "whole.parquet", index=False)
    spec = load_spec(folder / "audit.yaml").model_copy(update={"scale": None})
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"path": Path("whole.parquet")})})
    return spec, load_subject(spec)


def _skops_model(folder: Path) -> Any:
    import skops.io

    path = folder / "model.skops"
    return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))


def test_error_rates_counted_in_8_partitions_are_the_in_memory_evidence(dataset: Path, eight: Partitioned) -> None:
    """Error rates, gaps, disparities with their intervals and p-values, and the Theil index read the merged counts:
    given them, the evidence on the whole data in memory is the same, figure for figure (ROC AUC and calibration
    read the rows, here all of them in both)."""
    from audit.checks._error_rates import error_rate_evidence
    from audit.fairness.groups import build_breakdowns

    spec, subject = _in_memory(dataset)
    breakdowns = build_breakdowns(subject.groups, spec.fairness.intersections)
    alone = error_rate_evidence(subject, CheckContext(spec=spec, seed=spec.seed), breakdowns)
    counted = error_rate_evidence(subject, CheckContext(spec=spec, seed=spec.seed, population=eight.population),
                                  breakdowns)
    assert json.loads(counted.model_dump_json(exclude={"seconds"})) == json.loads(
        alone.model_dump_json(exclude={"seconds"}))
    # and the Theil index of the counts is the row-wise definition (aif360's, checked in tests/checks)
    from audit.fairness.individual import theil_index

    assert counted.metrics["theil_index"] == pytest.approx(
        theil_index(y=subject.y, decision=subject.predictions.decision), abs=1e-12)


def test_the_flip_test_over_8_partitions_moves_every_row_as_the_model_itself_decides(
        dataset: Path, eight: Partitioned) -> None:
    """Issue 16: the flip test counts every row. Direct pairs (age moved to each band's median over all rows) are
    checked against scikit-learn's own predictions on frames pandas changed; the mean score change and its normal
    interval against numpy; with proxies (donors from the sample), the counts of 8 partitions equal those of 1."""
    from audit.checks._flip import _group_sizes
    from audit.counterfactual.flip import DIRECT, WITH_PROXIES
    from audit.counterfactual.flip_counts import flip_result, plan_flips
    from audit.scale import flip_partitions
    from audit.subject import load_subject

    spec = _spec(dataset)
    sample = load_subject(spec, frame=eight.sample)
    plan = plan_flips(X=sample.X, groups=sample.groups, protected=sample.protected,
                      proxies={"age": ["marital-status", "relationship"]},
                      group_sizes=_group_sizes(eight.population, sample), medians=eight.band_medians, seed=spec.seed)
    counts = flip_partitions(spec, plan, target_rows=GROUP_ROWS, workers=2)
    result = flip_result(plan, counts, rng=np.random.default_rng(0), n_boot=200)

    frame = pq.read_table(dataset / "adult-8k.parquet").to_pandas()
    model = _skops_model(dataset)
    inputs = list(model.feature_names_in_)
    positive = list(model.classes_).index(">50K")
    before = model.predict_proba(frame[inputs])[:, positive]
    decided = model.predict(frame[inputs]) == ">50K"
    band = pd.cut(frame["age"], bins=[0, 25, 40, 55, 120], right=False,
                  labels=["under 25", "25-39", "40-54", "55 and over"]).astype(str)
    medians = frame.groupby(band)["age"].quantile(0.5, interpolation="nearest")
    direct = [p for p in result.pairs if p.variant == DIRECT]
    assert {p.attribute for p in direct} == {"age"} and len(direct) == 12  # sex and race are not model inputs
    for pair in direct:
        moved = frame[band == pair.source].copy()
        moved["age"] = medians[pair.target]
        after = model.predict_proba(moved[inputs])[:, positive]
        flipped = (model.predict(moved[inputs]) == ">50K") != decided[(band == pair.source).to_numpy()]
        change = after - before[(band == pair.source).to_numpy()]
        assert (pair.n, pair.flips) == (len(moved), int(flipped.sum())), (pair.source, pair.target)
        assert pair.mean_score_change == pytest.approx(change.mean(), abs=1e-9)
        half = 1.959963984540054 * change.std(ddof=1) / np.sqrt(len(change))
        assert pair.score_ci[0] == pytest.approx(change.mean() - half, abs=1e-9)
        assert pair.score_ci[1] == pytest.approx(change.mean() + half, abs=1e-9)
    assert any(p.variant == WITH_PROXIES for p in result.pairs)
    assert sum(p.n for p in result.pairs if p.variant == WITH_PROXIES and p.target == "under 25") == int(
        (band != "under 25").sum())
    one = flip_partitions(spec, plan, target_rows=ROWS, workers=1)
    # the same counts, sums and examples whatever the partitioning (not the work: identical rows within a partition
    # are scored once, so how many rows the model scored depends on it)
    assert (one.pairs, one.examples) == (counts.pairs, counts.examples)
    # and the same rows read whole in memory give the same pairs, intervals and examples (donors: the audit's sample)
    from dataclasses import asdict

    from audit.counterfactual import flip_test

    _, whole = _in_memory(dataset)
    score = whole.predictions.score
    assert score is not None
    alone = flip_test(X=whole.X, groups=whole.groups, protected=whole.protected, model=whole.model, score=score,
                      decision=whole.predictions.decision, ids=whole.ids,
                      proxies={"age": ["marital-status", "relationship"]}, seed=spec.seed,
                      rng=np.random.default_rng(0), n_boot=200,
                      sample=sample_positions(whole.ids, seed=spec.seed, sample_rows=1_500,
                                              favourable=whole.favourable, groups=whole.groups))
    assert [asdict(p) for p in alone.pairs] == [asdict(p) for p in result.pairs]
    assert alone.examples == result.examples and len(alone.examples) == 5


def test_recourse_rules_counted_in_8_partitions_are_the_in_memory_audits(dataset: Path, eight: Partitioned) -> None:
    """Recourse's rules of change (values, grids, spreads, linked columns) come from every row's values merged over
    partitions, so a person in the sample gets the recourse the in-memory audit gives them: the rules equal those
    built from the whole frame, and the sample's own rules differ (which is why they are not used)."""
    from audit.counterfactual import find_recourse
    from audit.counterfactual.actionability import actionability_from_counts, build_actionability
    from audit.counterfactual.column_counts import column_counts
    from audit.subject import load_subject

    spec, whole = _in_memory(dataset)
    rules = {"feature_types": whole.feature_types, "immutable": whole.immutable,
             "increase_only": spec.data.increase_only, "not_choices": spec.data.code_book.not_choices}
    memory = build_actionability(X=whole.X, **rules)
    counted = actionability_from_counts(counts=eight.columns, **rules)
    assert eight.columns.rows == ROWS and not eight.columns.dropped
    for field in ("ranges", "categories", "scales", "integer", "notes"):
        assert getattr(counted, field) == getattr(memory, field), field
    for mine, theirs in zip(counted.units, memory.units, strict=True):
        pd.testing.assert_frame_equal(mine.options, theirs.options)
    sample = load_subject(_spec(dataset), frame=eight.sample)
    own = actionability_from_counts(counts=column_counts(sample.X), **rules)
    assert own.scales != memory.scales
    # the same recourse for the sample's adverse decisions as the in-memory audit searches for those rows
    adverse = np.flatnonzero(~sample.favourable)[:300]
    score = sample.predictions.score
    assert score is not None
    found = find_recourse(X=sample.X, rows=adverse, model=sample.model, action=counted, score_before=score[adverse],
                          max_changes=spec.counterfactuals.max_changes)
    positions = pd.Index(whole.ids.astype(str)).get_indexer(sample.ids[adverse].astype(str))
    whole_score = whole.predictions.score
    assert whole_score is not None
    theirs = find_recourse(X=whole.X, rows=positions, model=whole.model, action=memory,
                           score_before=whole_score[positions], max_changes=spec.counterfactuals.max_changes)
    assert found.texts() == theirs.texts()
    np.testing.assert_array_equal(found.cost, theirs.cost)


def test_band_medians_merged_from_value_counts_are_pandas_nearest_quantile() -> None:
    """A binned attribute's bands get their median over every row from per-partition value counts."""
    from audit.counterfactual.flip_counts import MAX_BAND_VALUES, band_medians, band_values, merge_band_values
    from audit.spec import ProtectedSpec

    rng = np.random.default_rng(3)
    age = pd.Series(rng.integers(17, 90, 5_001)).astype(float)
    bands = pd.Series(np.where(age < 40, "young", "older"))
    X, groups = pd.DataFrame({"age": age}), pd.DataFrame({"age": bands})
    protected = [ProtectedSpec(column="age", kind="age", bins=[0, 40, 120], labels=["young", "older"])]
    cuts = [0, 1_234, 1_235, 4_000, 5_001]
    parts = [band_values(X.iloc[a:b], groups.iloc[a:b], protected) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merge_band_values(merged, part)
    expected = age.groupby(bands).quantile(0.5, interpolation="nearest")
    assert band_medians(merged) == {"age": {b: expected[b] for b in ("young", "older")}}
    many = pd.DataFrame({"age": np.arange(MAX_BAND_VALUES + 1, dtype=float)})
    wide = band_values(many, pd.DataFrame({"age": ["older"] * len(many)}), protected)
    assert merge_band_values(wide, band_values(X, groups, protected)) == {}  # too many values: the sample's median


def test_partitions_are_whole_row_groups_in_file_order(tmp_path: Path) -> None:
    """A folder of two files (a Parquet dataset): partitions of whole row groups, never across files, in order."""
    table = pq.read_table(EXAMPLE / "adult.parquet").slice(0, ROWS)
    (tmp_path / "data").mkdir()
    pq.write_table(table.slice(0, ROWS // 2), tmp_path / "data" / "part-0.parquet", row_group_size=GROUP_ROWS)
    pq.write_table(table.slice(ROWS // 2), tmp_path / "data" / "part-1.parquet", row_group_size=GROUP_ROWS)
    partitions = plan_partitions(tmp_path / "data", target_rows=2_500)
    assert [(p.path.name, p.row_groups, p.start, p.rows) for p in partitions] == [
        ("part-0.parquet", (0, 1), 0, 2_000), ("part-0.parquet", (2, 3), 2_000, 2_000),
        ("part-1.parquet", (0, 1), 4_000, 2_000), ("part-1.parquet", (2, 3), 6_000, 2_000)]
    whole = pq.read_table(EXAMPLE / "adult.parquet").slice(0, ROWS).to_pandas()
    third = read_partition(partitions[2])
    assert list(third.index) == list(range(4_000, 6_000))
    assert third["person_id"].tolist() == whole["person_id"].iloc[4_000:6_000].tolist()


def test_counts_merged_from_8_partitions_equal_pandas_on_the_models_predictions(dataset: Path,
                                                                               eight: Partitioned) -> None:
    read = eight
    assert read.partitions == 8 and read.population.rows == ROWS
    frame = pq.read_table(EXAMPLE / "adult.parquet").slice(0, ROWS).to_pandas()
    frame["decided"] = _model_decisions(dataset, frame)
    frame["good"] = frame["income"] == ">50K"
    for attributes in (("sex",), ("race",), ("sex", "race")):
        cells = read.population.cells(attributes, selected=False)
        values = read.population.breakdown(attributes).values
        by_pandas = frame.groupby(list(attributes)).apply(
            lambda g: pd.Series({"tp": int((g.decided & g.good).sum()), "fp": int((g.decided & ~g.good).sum()),
                                 "fn": int((~g.decided & g.good).sum()), "tn": int((~g.decided & ~g.good).sum())}),
            include_groups=False)
        expected = np.array([by_pandas.loc[v if len(v) > 1 else v[0]].to_numpy() for v in values])
        assert (cells == expected).all(), attributes
        assert len(values) == len(by_pandas)
    # an invitation favours the candidate: "selected" = decided positive
    assert (read.population.cells(("sex",), selected=True)[:, 1]
            == frame.groupby("sex")["decided"].sum().sort_index().to_numpy()).all()


def test_counts_and_sample_are_the_same_in_1_or_8_partitions_locally_or_on_a_dask_cluster(
        dataset: Path, cluster: str, eight: Partitioned) -> None:
    """What the checks read (counts over every row, the sample's rows) does not depend on the partitioning or on
    where the partitions ran; the audit's figures are computed from these alone (the next test runs the audit)."""
    one = count_partitions(_spec(dataset), target_rows=ROWS, sample_rows=1_500, workers=1)
    done: list[int] = []
    remote = count_partitions(_spec(dataset), target_rows=GROUP_ROWS, sample_rows=1_500, scheduler=cluster,
                              progress=lambda rows, total: done.append(rows))
    assert (one.partitions, eight.partitions, remote.partitions) == (1, 8, 8)
    assert one.population == eight.population == remote.population
    pd.testing.assert_frame_equal(one.sample, eight.sample)
    pd.testing.assert_frame_equal(one.sample, remote.sample)
    assert sorted(done) == list(range(GROUP_ROWS, ROWS + 1, GROUP_ROWS))  # progress after each partition
    # the sample is the in-memory audit's: the same rows of the file read whole
    spec, whole = _in_memory(dataset)
    positions = sample_positions(whole.ids, seed=spec.seed, sample_rows=1_500, favourable=whole.favourable,
                                 groups=whole.groups)
    assert eight.sample.index.tolist() == positions.tolist()
    assert eight.drawn.rows == len(eight.sample) == 1_500 - eight.drawn.short and eight.drawn.short <= 3


def _evidence(folder: Path, spec_file: str, tag: str, *args: str) -> dict[str, Any]:
    """`audit run` of ``spec_file``; its verdict, rows, scale record and every evidence item's figures."""
    out = folder / f"out-{tag}"
    done = subprocess.run([sys.executable, "-m", "audit", "run", spec_file, "--output", str(out), "--no-history",
                           *args], cwd=folder, capture_output=True, text=True, timeout=600)
    result = json.loads(next(out.glob("*/*/audit.json")).read_text())
    assert done.returncode == (1 if result["verdict"] == "FAIL" else 0), done.stderr
    return {"verdict": result["verdict"], "rows": result["subject"]["rows"], "scale": result["run"]["scale"],
            "alerts": result["alerts"], "sample_rows": result["subject"]["sample_rows"],
            **{e["id"]: {k: e[k] for k in ("status", "metrics", "tables", "missing", "partial")}
               for e in result["evidence"]}}


@pytest.mark.slow
def test_the_audit_is_the_same_read_whole_or_in_8_partitions_on_a_dask_cluster(dataset: Path, cluster: str) -> None:
    """Issue 16: every figure of audit.json (rates, ratios, intervals, flip rates, the sample's explanations) is
    the same whether the data is one partition on a local process or eight on a 2-worker cluster (eight on local
    processes give the same inputs, test above); the rates and ratios counted over all rows, the flip test, recourse
    and the robustness test (on the audit's sample) are those of the in-memory audit of the same rows."""
    spec = yaml.safe_load((dataset / "audit.yaml").read_text())
    spec["scale"]["partition_rows"] = ROWS
    (dataset / "whole.yaml").write_text(yaml.safe_dump(spec))
    whole = _evidence(dataset, "whole.yaml", "whole")
    on_cluster = _evidence(dataset, "audit.yaml", "cluster", "--scheduler", cluster)
    assert whole["scale"]["partitions"] == 1 and on_cluster["scale"]["partitions"] == 8
    assert on_cluster["scale"]["engine"] == f"Dask scheduler {cluster}"
    whole.pop("scale"), on_cluster.pop("scale")
    assert on_cluster == whole
    assert whole["rows"] == ROWS
    assert f"Partitioned audit of {ROWS:,} decisions" in " ".join(whole["alerts"])  # the cover and summary say so
    items = {e["id"]: e for e in json.loads(next((dataset / "out-whole").glob("*/*/audit.json")).read_text())["evidence"]}
    assert items["fairness.selection_rate"]["params"]["rows_counted"] == ROWS
    assert items["fairness.eeo_impact"]["metrics"]["n_applicants"] == ROWS
    for counted in ("fairness.error_rates", "counterfactual.flip", "counterfactual.recourse", "data.proxies"):  # sampled parts
        assert items[counted]["params"]["rows_counted"] == ROWS, counted
        assert items[counted]["params"]["sample_rows"] == whole["sample_rows"], counted
        assert any("random sample of" in line for line in items[counted]["limits"]), counted
    assert whole["counterfactual.flip"]["metrics"]["n_rows"] == ROWS
    assert sum(row[4] for row in whole["counterfactual.flip"]["tables"][0]["rows"]
               if row[0] == "age" and row[1] == "direct" and row[3] == "under 25") == ROWS - sum(
        row[2] for row in whole["fairness.selection_rate"]["tables"][0]["rows"] if row[:2] == ["age", "under 25"])
    # decisions.parquet holds every decision, in the data's order, the same whatever the partitioning
    bundle = next((dataset / "out-whole").glob("*/*/"))
    decisions = pd.read_parquet(bundle / "decisions.parquet")
    pd.testing.assert_frame_equal(decisions, pd.read_parquet(next((dataset / "out-cluster").glob("*/*/"))
                                                             / "decisions.parquet"))
    data_ids = pq.read_table(dataset / "adult-8k.parquet", columns=["person_id"]).column(0).to_pylist()
    assert decisions["id"].astype(str).tolist() == [str(i) for i in data_ids]
    assert decisions["reason_1"].notna().sum() == ROWS
    # so a person outside the sample gets their notice, with their reasons
    memory_spec, subject = _in_memory(dataset)
    sampled = set(sample_positions(subject.ids, seed=memory_spec.seed, sample_rows=1_500,
                                   favourable=subject.favourable, groups=subject.groups))
    outside = next(str(i) for position, i in enumerate(data_ids) if position not in sampled)
    told = subprocess.run([sys.executable, "-m", "audit", "explain", str(bundle), "--id", outside],
                          capture_output=True, text=True, timeout=120)
    assert told.returncode == 0 and outside in told.stdout, told.stderr
    from audit.compare.bundles import _rows_note
    from audit.evidence import read_audit_json

    partitioned = read_audit_json(bundle / "audit.json")
    assert partitioned.run["scale"]["decisions_file"] == "every decision"
    assert _rows_note(partitioned, partitioned) is None  # audit diff compares every decision

    # the in-memory audit of the same 8,000 rows: same selection and EEO figures
    from audit.checks._eeo import eeo_evidence
    from audit.checks._selection import selection_evidence
    from audit.fairness.groups import build_breakdowns

    ctx = CheckContext(spec=memory_spec, seed=memory_spec.seed)
    breakdowns = build_breakdowns(subject.groups, memory_spec.fairness.intersections)
    for item in (selection_evidence(subject, ctx, breakdowns), eeo_evidence(subject, ctx)):
        mine = json.loads(item.model_dump_json())
        assert mine["metrics"] == whole[item.id]["metrics"], item.id
        assert mine["tables"] == whole[item.id]["tables"], item.id
    # the proxy screen's associations (Cramér's V and NMI of every pair, counted over every row) and so its proxies;
    # then the flip test (direct and with those proxies: every flip rate, interval and score change) and the
    # robustness test (on the audit's sample, the same rows in both) are those of the in-memory audit
    from audit.checks._flip import flip_evidence
    from audit.checks._proxies import proxy_evidence
    from audit.checks._recourse import recourse_evidence
    from audit.checks._robustness import robustness_evidence

    ctx = CheckContext(spec=memory_spec, seed=memory_spec.seed, sample_rows=1_500)
    screen, ctx.proxies = proxy_evidence(subject, ctx)
    mine = json.loads(screen.model_dump_json())
    assert mine["tables"][0] == whole["data.proxies"]["tables"][0]
    for metric in ("max_cramers_v", "strongest_proxy", "n_strong_proxies"):
        assert mine["metrics"][metric] == whole["data.proxies"]["metrics"][metric], metric
    assert {a: f for a, f in ctx.proxies.items() if f} == {
        line.split(": ")[0]: line.split(": ")[1].split(", ") for line in items["counterfactual.flip"]["params"]["proxies"]}
    assert items["counterfactual.flip"]["params"]["proxies"]  # the with-proxies variant ran
    for item in (flip_evidence(subject, ctx), robustness_evidence(subject, ctx), recourse_evidence(subject, ctx)):
        mine = json.loads(item.model_dump_json())
        for key in ("metrics", "tables", "missing", "partial"):
            assert mine[key] == whole[item.id][key], (item.id, key)
    assert whole["robustness.perturbation"]["metrics"]["n_rows"] == whole["sample_rows"]
    # recourse searched every adverse decision of every partition: as many as the model's adverse decisions
    assert whole["counterfactual.recourse"]["metrics"]["n_adverse"] == int((~subject.favourable).sum()) > 3_000
    # and decisions.parquet holds each one's recourse and cost, as the in-memory audit writes them (not only the
    # sample's): the same text for every decision, None for the favourable ones
    assert decisions["id"].astype(str).tolist() == [str(i) for i in subject.ids]
    written = decisions["recourse"].astype(object)
    assert written.where(written.notna(), None).tolist() == ctx.decision_columns["recourse"]
    assert decisions["recourse"].notna().sum() == int((~subject.favourable).sum())
    np.testing.assert_array_equal(decisions["recourse_cost"].to_numpy(), ctx.decision_columns["recourse_cost"])


def test_a_worker_without_a_library_is_named_before_any_partition_is_read(
        dataset: Path, cluster: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from audit.scale import engine

    needed = engine.required_distributions
    monkeypatch.setattr(engine, "required_distributions", lambda spec: (*needed(spec), "no-such-distribution-xyz"))
    read: list[int] = []
    with pytest.raises(AuditInputError) as caught:
        count_partitions(_spec(dataset), scheduler=cluster, progress=lambda done, total: read.append(done))
    assert caught.value.template == WORKER_LIBRARY_MISSING
    assert caught.value.fields["module"] == "no-such-distribution-xyz"
    assert str(caught.value.fields["worker"]).startswith("tcp://")
    assert read == []


def test_a_partitioned_audit_refuses_what_it_cannot_count_exactly_before_work(dataset: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load((dataset / "audit.yaml").read_text())
    spec["model"]["path"] = str(dataset / "model.skops")
    spec["system"]["use"] = "scoring"
    spec["data"]["path"] = str(dataset / "adult-8k.parquet")
    (tmp_path / "scoring.yaml").write_text(yaml.safe_dump(spec))
    done = subprocess.run([sys.executable, "-m", "audit", "run", "scoring.yaml", "--output", "out", "--no-history"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "system.use" in done.stderr and "median score" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("audit.json"))

    csv = tmp_path / "adult.csv"
    pq.read_table(EXAMPLE / "adult.parquet").slice(0, 100).to_pandas().to_csv(csv, index=False)
    spec["system"]["use"] = "classification"
    spec["data"]["path"] = str(csv)
    (tmp_path / "csv.yaml").write_text(yaml.safe_dump(spec))
    done = subprocess.run([sys.executable, "-m", "audit", "run", "csv.yaml", "--output", "out", "--no-history"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "adult.csv" in done.stderr and ".parquet" in done.stderr and "Traceback" not in done.stderr


def test_a_risk_flag_counted_in_partitions_selects_the_unflagged_as_the_in_memory_audit_does(tmp_path: Path) -> None:
    """Direction: for a risk flag the favourable decision is not being flagged. The German credit risk-flag example
    (examples/german-credit, Statlog German Credit, CC BY 4.0) in 5 partitions gives the selection evidence of the
    in-memory audit, and its "selected" counts are the people pandas finds not flagged by the model itself."""
    from audit.checks._selection import selection_evidence
    from audit.fairness.groups import build_breakdowns
    from audit.subject import load_subject

    german = EXAMPLE.parent / "german-credit"
    frame = pd.read_csv(german / "german_credit.csv", skipinitialspace=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "german.parquet", row_group_size=100)
    spec = yaml.safe_load((german / "risk-flag.yaml").read_text())
    spec.pop("signing")
    spec["model"]["path"] = str(german / "model.skops")
    spec["data"]["path"] = "german.parquet"
    spec["fairness"]["bootstrap"] = 200
    (tmp_path / "flag.yaml").write_text(yaml.safe_dump(spec))
    flag = load_spec(tmp_path / "flag.yaml")
    read = count_partitions(flag, target_rows=100, sample_rows=500, workers=2)
    assert read.partitions == 5 and read.population.rows == len(frame)

    import skops.io

    model = skops.io.load(german / "model.skops", trusted=skops.io.get_untrusted_types(file=german / "model.skops"))
    flagged = model.predict(frame[list(model.feature_names_in_)]) == "bad"
    not_flagged = pd.Series(~flagged).groupby(frame["sex"]).sum().sort_index().to_numpy()
    assert (read.population.cells(("sex",), selected=True)[:, 1] == not_flagged).all()

    subject = load_subject(flag)  # the whole file in memory
    breakdowns = build_breakdowns(subject.groups, flag.fairness.intersections)
    in_memory = selection_evidence(subject, CheckContext(spec=flag, seed=flag.seed), breakdowns)
    counted = selection_evidence(subject, CheckContext(spec=flag, seed=flag.seed, population=read.population),
                                 breakdowns)
    assert in_memory.metrics["favourable_decision"] == "negative"
    assert json.loads(counted.model_dump_json()) == json.loads(in_memory.model_dump_json())


def test_bad_data_in_one_partition_stops_the_audit_with_its_row_in_the_whole_file(dataset: Path, tmp_path: Path) -> None:
    """A worker's refusal comes back as the same one-line message (its fields intact, even with braces in them),
    naming the row by its place in the whole file; exit 2, no bundle."""
    import pickle

    frame = pq.read_table(dataset / "adult-8k.parquet").to_pandas()
    frame.loc[5_432, "income"] = None
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "bad.parquet",
                   row_group_size=GROUP_ROWS)
    spec = yaml.safe_load((dataset / "audit.yaml").read_text())
    spec["model"]["path"] = str(dataset / "model.skops")
    spec["data"]["path"] = "bad.parquet"
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec))
    done = subprocess.run([sys.executable, "-m", "audit", "run", "audit.yaml", "--output", "out", "--no-history"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "bad.parquet" in line and "'income'" in line
    assert f"row 5433 (person_id {frame.loc[5_432, 'person_id']})" in line
    assert not list(tmp_path.rglob("audit.json"))

    error = AuditInputError("{path}: {problem}", path=tmp_path, problem="a value {with braces}")
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own object, as a worker sends it back)
    assert (str(again), again.template, again.fields) == (str(error), error.template, error.fields)


def test_an_id_in_two_partitions_is_refused_as_a_whole_file_refuses_it(dataset: Path, tmp_path: Path) -> None:
    """Each partition refuses an id it holds twice; one repeated in two partitions would count a person twice."""
    from audit.errors import ID_DUPLICATED

    frame = pq.read_table(dataset / "adult-8k.parquet").to_pandas()
    frame.loc[6_500, "person_id"] = frame.loc[10, "person_id"]  # partition 7 repeats an id of partition 1
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "twice.parquet",
                   row_group_size=GROUP_ROWS)
    shutil.copy(dataset / "model.skops", tmp_path)
    spec = yaml.safe_load((dataset / "audit.yaml").read_text())
    spec["data"]["path"] = "twice.parquet"
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(AuditInputError) as caught:
        count_partitions(load_spec(tmp_path / "audit.yaml"), target_rows=GROUP_ROWS, sample_rows=1_500, workers=2)
    assert caught.value.template == ID_DUPLICATED
    assert caught.value.fields["count"] == 1 and repr(str(frame.loc[10, "person_id"])) in caught.value.fields["examples"]
    assert caught.value.fields["column"] == "person_id"


def test_partitions_handed_on_in_row_order_keep_a_bounded_window() -> None:
    """The decisions pass hands partitions on in row order; however late one is, no more than ``window`` are
    submitted and not yet handed on (so memory never holds every partition behind a straggler)."""
    from audit.scale.engine import _windowed

    submitted: list[int] = []

    def submit(task: int) -> int:
        submitted.append(task)
        return task

    handed: list[int] = []
    for future in _windowed(submit, list(range(10)), 3):
        handed.append(future)
        assert len(submitted) - len(handed) <= 3
    assert handed == submitted == list(range(10))


def test_a_bundle_holding_only_the_sample_says_so_to_explain_and_diff(tmp_path: Path) -> None:
    """When decisions.parquet holds the sample only (an approximate explainer), `audit explain` for someone else
    says so (not "no such decision"), and `audit diff` says its per-group figures come from the sample."""
    from audit.compare.bundles import _rows_note
    from audit.errors import DECISION_NOT_IN_SAMPLE
    from audit.evidence import AuditResult
    from audit.explain.notice import load_notice

    pd.DataFrame({"id": ["a1", "a2"], "decision": [True, False]}).to_parquet(tmp_path / "decisions.parquet")
    scale = {"rows": 1_000_000, "sample_rows": 2, "decisions_file": "the sample"}
    (tmp_path / "audit.json").write_text(json.dumps({"run": {"scale": scale}}))
    with pytest.raises(AuditInputError) as caught:
        load_notice(bundle_dir=tmp_path, decision_id="b7")
    assert caught.value.template == DECISION_NOT_IN_SAMPLE
    assert caught.value.fields["rows"] == "1,000,000" and caught.value.fields["count"] == "2"
    result = AuditResult.model_construct(run={"scale": scale})
    assert "random sample of 2 of its 1,000,000 decisions" in (_rows_note(result, result) or "")


def test_each_item_says_what_it_read_from_the_sample() -> None:
    """The flip item names the donors of proxy values only when proxies were changed; an item that is not counted
    says it is an estimate from the sample; a counted one carries the rows it counted."""
    from audit.evidence import Evidence, EvidenceStatus
    from audit.pipeline import _say_what_was_sampled

    scale = {"rows": 1_000_000, "sample_rows": 20_000, "sample_wanted": 20_000, "sample_short": 0, "sample_strata": 40,
             "sample_margin_95": 0.0069}
    def item(id: str, **params: Any) -> Evidence:  # only what _say_what_was_sampled reads and writes
        return Evidence.model_construct(id=id, status=EvidenceStatus.OK, params=params, limits=[], method="m")

    with_proxies = item("counterfactual.flip", proxies=["sex: relationship"])
    without = item("counterfactual.flip", proxies=[])
    robustness = item("robustness.perturbation")
    _say_what_was_sampled([with_proxies, without, robustness], scale)
    assert with_proxies.params["rows_counted"] == without.params["rows_counted"] == 1_000_000
    assert "the donors of proxy values" in with_proxies.limits[-1]
    assert without.limits == [] and "sample_rows" not in without.params  # no donor drawn: nothing read the sample
    assert robustness.params["sample_rows"] == 20_000 and "estimates for all decisions" in robustness.limits[-1]
