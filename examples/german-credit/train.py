"""Build the German credit example: readable data and a trained credit-scoring model.

Reads the original UCI file (examples/data/german-credit/german.data, CC BY 4.0),
replaces the code book's codes (A11, A12, ...) by their labels, derives `sex`
from attribute 9 (personal status and sex), splits the 1,000 applicants 50/50
(seeded, stratified by outcome), trains a scikit-learn pipeline (one-hot
encoding + gradient boosting) on one half and writes:

- german_credit.csv : the other half, the data the example audit runs on
- model.skops       : the trained pipeline, saved with skops (no pickle)
- german_credit_decisions.csv : the same applicants with the model's decision and score as
                      columns, the way a regulator receives a decision log (no model):
                      audited by decisions-only.yaml

Run: python examples/german-credit/train.py   (deterministic: same files every run)
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "data" / "german-credit" / "german.data"
SEED = 20261122

COLUMNS = [
    "checking_account", "duration_months", "credit_history", "purpose", "credit_amount",
    "savings", "employed_since", "installment_rate", "personal_status", "other_debtors",
    "residence_since", "property", "age", "other_installment_plans", "housing",
    "existing_credits", "job", "people_liable", "telephone", "foreign_worker", "credit_risk",
]

# Labels from the code book (examples/data/german-credit/README.md).
CODES = {
    "checking_account": {"A11": "< 0 DM", "A12": "0 to < 200 DM", "A13": ">= 200 DM or salary assigned",
                         "A14": "no checking account"},
    "credit_history": {"A30": "no credits / all paid back duly", "A31": "all credits at this bank paid back",
                       "A32": "existing credits paid back duly", "A33": "delay in paying off in the past",
                       "A34": "critical account / credits elsewhere"},
    "purpose": {"A40": "car (new)", "A41": "car (used)", "A42": "furniture/equipment", "A43": "radio/television",
                "A44": "domestic appliances", "A45": "repairs", "A46": "education", "A47": "vacation",
                "A48": "retraining", "A49": "business", "A410": "others"},
    "savings": {"A61": "< 100 DM", "A62": "100 to < 500 DM", "A63": "500 to < 1000 DM", "A64": ">= 1000 DM",
                "A65": "unknown / none"},
    "employed_since": {"A71": "unemployed", "A72": "< 1 year", "A73": "1 to < 4 years", "A74": "4 to < 7 years",
                       "A75": ">= 7 years"},
    "personal_status": {"A91": "male: divorced/separated", "A92": "female: divorced/separated/married",
                        "A93": "male: single", "A94": "male: married/widowed", "A95": "female: single"},
    "other_debtors": {"A101": "none", "A102": "co-applicant", "A103": "guarantor"},
    "property": {"A121": "real estate", "A122": "savings agreement / life insurance", "A123": "car or other",
                 "A124": "unknown / none"},
    "other_installment_plans": {"A141": "bank", "A142": "stores", "A143": "none"},
    "housing": {"A151": "rent", "A152": "own", "A153": "for free"},
    "job": {"A171": "unemployed / unskilled non-resident", "A172": "unskilled resident",
            "A173": "skilled employee / official", "A174": "management / self-employed / highly qualified"},
    "telephone": {"A191": "none", "A192": "yes"},
    "foreign_worker": {"A201": "yes", "A202": "no"},
    "credit_risk": {"1": "good", "2": "bad"},
}
SEX = {"A91": "male", "A92": "female", "A93": "male", "A94": "male", "A95": "female"}


def load_readable() -> pd.DataFrame:
    """The 1,000 applicants with readable labels, an id and the derived `sex` column."""
    raw = pd.read_csv(SOURCE, sep=" ", header=None, names=COLUMNS, dtype=str)
    data = raw.copy()
    for column, codes in CODES.items():
        data[column] = raw[column].map(codes)
    for column in set(COLUMNS) - set(CODES):
        data[column] = raw[column].astype(int)
    data.insert(0, "applicant_id", [f"A{i:04d}" for i in range(1, len(data) + 1)])
    data.insert(len(data.columns) - 1, "sex", raw["personal_status"].map(SEX))
    return data


def build_model(features: pd.DataFrame) -> Pipeline:
    """One-hot encode the categorical columns, pass numbers through, gradient boosting on top."""
    categorical = [c for c in features.columns if features[c].dtype == object or str(features[c].dtype) == "str"]
    numeric = [c for c in features.columns if c not in categorical]
    encode = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
         ("numeric", "passthrough", numeric)],
        verbose_feature_names_out=False,
    )
    boost = GradientBoostingClassifier(n_estimators=150, max_depth=3, learning_rate=0.05, random_state=SEED)
    return Pipeline([("encode", encode), ("model", boost)])


def main() -> None:
    data = load_readable()
    train, audit = train_test_split(data, test_size=0.5, random_state=SEED, stratify=data["credit_risk"])
    # The model sees every attribute of the application except the id and the derived `sex`
    # (personal_status still carries sex: the audit's proxy screen and flip test should find it).
    features = [c for c in data.columns if c not in ("applicant_id", "sex", "credit_risk")]
    model = build_model(train[features])
    model.fit(train[features], train["credit_risk"])
    audit = audit.sort_values("applicant_id")
    audit.to_csv(HERE / "german_credit.csv", index=False)
    sio.dump(model, HERE / "model.skops", compression=zipfile.ZIP_DEFLATED)
    good = list(model.classes_).index("good")
    log = audit.assign(decision=model.predict(audit[features]), score=model.predict_proba(audit[features])[:, good].round(6))
    log["decision"] = log["decision"].map({"good": "approve", "bad": "reject"})
    log.to_csv(HERE / "german_credit_decisions.csv", index=False)
    print(f"wrote {HERE / 'german_credit.csv'} ({len(audit)} rows) and {HERE / 'model.skops'}")


if __name__ == "__main__":
    main()
