"""Build the German credit examples whose models do not output one binary probability.

The applicants are the German credit example's (../german-credit, from the UCI file in
../data/german-credit, CC BY 4.0): this script reproduces that example's split exactly (its
`load_readable` and the same seeded, stratified 50/50 split), trains on the training half and
checks that the other half is ../german-credit/german_credit.csv, the data the audits run on.

Two models, both scikit-learn pipelines saved with skops (no pickle):

- three-class.skops: a random forest that sorts applications into three tiers, "approve",
  "refer" (to an underwriter) and "decline". The tier is GENERATED for this example, derived from
  two real columns: the real outcome `credit_risk` (good -> approve) and, for bad risks, the real
  `duration_months` (up to 24 months -> refer, longer -> decline). No bank's tiers are known;
  the rule only gives the model three real-looking classes to learn. Audited by three-class.yaml,
  with "approve" the positive decision; german_credit_tiers.csv is the audit half with the
  generated `tier` column added (every other column as in ../german-credit/german_credit.csv).
- score.skops: a ridge regression that outputs points (100 x the chance of a good risk, on a
  linear scale that can leave 0..100), i.e. a scorecard, not a classifier. Audited by score.yaml
  with the cutoff 70 points (GENERATED: the example's choice, no bank's).

Run: python examples/german-credit-outputs/train.py   (deterministic: same files every run)
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
GERMAN = HERE.parent / "german-credit"
SEED = 20261122  # the German credit example's seed (its split) and these models'
#: The tier model's inputs: few columns keep its model-agnostic explanations (KernelSHAP) quick.
TIER_INPUTS = ["checking_account", "duration_months", "credit_history", "credit_amount", "savings", "employed_since",
               "age", "housing"]
#: The scorecard sees every attribute of the application except the id and the derived `sex`.
EXCLUDED = ("applicant_id", "sex", "credit_risk", "tier")
REFER_MONTHS = 24


def german_example() -> Any:
    """The German credit example's train.py as a module (its folder name is no Python package name)."""
    found = importlib.util.spec_from_file_location("german_credit_train", GERMAN / "train.py")
    if found is None or found.loader is None:
        raise SystemExit(f"cannot read {GERMAN / 'train.py'}")
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


def tiers(data: pd.DataFrame) -> pd.Series:
    """GENERATED tier: good risk -> approve; bad risk -> refer (up to 24 months) or decline (longer)."""
    bad_tier = np.where(data["duration_months"] <= REFER_MONTHS, "refer", "decline")
    return pd.Series(np.where(data["credit_risk"] == "good", "approve", bad_tier), index=data.index, name="tier")


def encoder(features: pd.DataFrame, *, scale: bool) -> ColumnTransformer:
    """One-hot for the text columns; numbers passed through (or standardised, for the ridge)."""
    categorical = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    numeric = [c for c in features.columns if c not in categorical]
    return ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
         ("numeric", StandardScaler() if scale else "passthrough", numeric)],
        verbose_feature_names_out=False)


def main() -> None:
    example = german_example()
    data = example.load_readable()
    train, audit = train_test_split(data, test_size=0.5, random_state=example.SEED, stratify=data["credit_risk"])
    audit = audit.sort_values("applicant_id").reset_index(drop=True)
    shipped = pd.read_csv(GERMAN / "german_credit.csv")
    if not audit.astype(str).equals(shipped.astype(str)):
        raise SystemExit("the audit half differs from ../german-credit/german_credit.csv: rerun that example's train.py")

    forest = Pipeline([("encode", encoder(train[TIER_INPUTS], scale=False)),
                       ("model", RandomForestClassifier(n_estimators=60, max_depth=6, min_samples_leaf=5,
                                                        random_state=SEED, n_jobs=1))])
    forest.fit(train[TIER_INPUTS], tiers(train))
    sio.dump(forest, HERE / "three-class.skops", compression=zipfile.ZIP_DEFLATED)
    audit.assign(tier=tiers(audit)).to_csv(HERE / "german_credit_tiers.csv", index=False)

    features = [c for c in data.columns if c not in EXCLUDED]
    points = 100.0 * (train["credit_risk"] == "good")
    scorecard = Pipeline([("encode", encoder(train[features], scale=True)), ("model", Ridge(alpha=10.0))])
    scorecard.fit(train[features], points)
    sio.dump(scorecard, HERE / "score.skops", compression=zipfile.ZIP_DEFLATED)

    own = forest.predict(audit[TIER_INPUTS])
    score = scorecard.predict(audit[features])
    print(f"three-class: classes {list(forest.classes_)}, audit half: "
          + ", ".join(f"{c} {int((own == c).sum())}" for c in forest.classes_))
    print(f"score: {score.min():.1f} to {score.max():.1f} points, {int((score >= 70).sum())} of {len(score)} at or "
          "above 70")


if __name__ == "__main__":
    main()
