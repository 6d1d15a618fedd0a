"""Build the Adult "hiring screen" example: readable data and a trained screening model.

The UCI Adult census extract (examples/data/adult/, CC BY 4.0) stands in for a
candidate-screening tool used in New York City: "selected" means the model
predicts income > 50K. The model is trained on adult.data (32,561 rows) and the
audit runs on all 48,842 rows (adult.data + adult.test) with a `split` column.

The model sees neither sex, race nor the sampling weight fnlwgt, but it does
see relationship and marital-status, known proxies for sex: the proxy screen
and the flip test with proxies should find them.

Writes (deterministic):
- adult.parquet : 48,842 rows, readable columns, `person_id`, `split`, `income`
- model.skops   : scikit-learn Pipeline(one-hot + LightGBM), saved with skops

Run: python examples/adult-hiring/prepare.py
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "data" / "adult"
SEED = 20261122
COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]
NOT_FEATURES = ("person_id", "split", "income", "sex", "race", "fnlwgt")


def load_adult() -> pd.DataFrame:
    """All 48,842 rows with readable values; `?` becomes missing; labels lose adult.test's trailing dot."""
    parts = []
    for name, split in (("adult.data", "train"), ("adult.test", "test")):
        part = pd.read_csv(SOURCE / name, header=None, names=COLUMNS, skipinitialspace=True,
                           na_values="?", comment="|", skip_blank_lines=True)
        part["income"] = part["income"].str.rstrip(".")
        part["split"] = split
        parts.append(part)
    data = pd.concat(parts, ignore_index=True)
    data.insert(0, "person_id", [f"P{i:05d}" for i in range(1, len(data) + 1)])
    return data


def feature_columns(data: pd.DataFrame) -> list[str]:
    """The model's inputs: everything but the id, split, label, sex, race and the sampling weight."""
    return [c for c in data.columns if c not in NOT_FEATURES]


def build_model(features: pd.DataFrame, *, seed: int = SEED):  # noqa: ANN201 - sklearn Pipeline
    """One-hot encode categorical columns (missing as its own category), LightGBM on top."""
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    categorical = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    numeric = [c for c in features.columns if c not in categorical]
    encode = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False, min_frequency=20), categorical),
         ("numeric", "passthrough", numeric)],
        verbose_feature_names_out=False,
    )
    boost = LGBMClassifier(n_estimators=200, num_leaves=31, learning_rate=0.05, random_state=seed,
                           n_jobs=1, deterministic=True, force_row_wise=True, verbose=-1)
    return Pipeline([("encode", encode), ("model", boost)])


def main() -> None:
    import skops.io as sio

    data = load_adult()
    train = data[data["split"] == "train"]
    features = feature_columns(data)
    model = build_model(train[features])
    model.fit(train[features], train["income"])  # missing values are a category of their own
    data.to_parquet(HERE / "adult.parquet", index=False)
    sio.dump(model, HERE / "model.skops", compression=zipfile.ZIP_DEFLATED)
    print(f"wrote {HERE / 'adult.parquet'} ({len(data)} rows) and {HERE / 'model.skops'}")


if __name__ == "__main__":
    main()
