"""Train the two CV-screening text models on GENERATED profiles (make_profiles.py) of 6,000 Adult rows.

Both models are the same scikit-learn pipeline, fitted on a DataFrame with one column, `profile`:
ColumnTransformer([("text", TfidfVectorizer, "profile")]) + LogisticRegression. "Shortlist" means
the model predicts income >50K (the Adult outcome is the label).

- model.skops         : trained on the profiles as written: it can learn the gendered words
                        (he/she, his/her, husband/wife, ...) and does.
- model-neutral.skops : trained on the same profiles with the gendered words removed
                        (make_profiles.neutralise), so none of them is in its vocabulary: fed the
                        gendered audit texts, it ignores those words, and swapping them cannot move
                        its decisions. It still reads the other words (married, lives with parents,
                        occupation...), which carry sex indirectly.

Both are saved with skops (no pickle). Also writes profiles.csv (the 4,000 audit people), so this
one script rebuilds every file of the example.

Run: python examples/adult-cv-screening/train.py   (deterministic: same files every run)
"""

from __future__ import annotations

import zipfile

import skops.io as sio
from make_profiles import AUDIT_COLUMNS, GENDERED, HERE, SEED, load_sample, neutralise
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline

POSITIVE = ">50K"


def build_model():  # noqa: ANN201 - sklearn Pipeline
    """tf-idf of the words (lower case, words of two or more letters or digits) + logistic regression."""
    text = TfidfVectorizer(lowercase=True, token_pattern=r"(?u)\b\w\w+\b", ngram_range=(1, 1), min_df=5,
                           sublinear_tf=True, norm="l2")
    encode = ColumnTransformer([("text", text, "profile")])
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=SEED)
    return Pipeline([("encode", encode), ("model", model)])


def main() -> None:
    train, audit = load_sample()
    neutral_train = train.assign(profile=train["profile"].map(neutralise))
    models = {}
    for name, texts in (("model.skops", train), ("model-neutral.skops", neutral_train)):
        model = build_model().fit(texts[["profile"]], texts["income"])
        vocabulary = model.named_steps["encode"].named_transformers_["text"].vocabulary_
        found = sorted(set(GENDERED) & set(vocabulary))
        if name == "model-neutral.skops" and found:
            raise SystemExit(f"{name}: gendered words in the vocabulary: {found}")
        sio.dump(model, HERE / name, compression=zipfile.ZIP_DEFLATED)
        models[name] = model
        positive = list(model.classes_).index(POSITIVE)
        score = model.predict_proba(audit[["profile"]])[:, positive]
        decision = model.predict(audit[["profile"]])
        print(f"{name}: {len(vocabulary)} words (gendered: {found or 'none'}); on the audit half: "
              f"accuracy {accuracy_score(audit['income'], decision):.3f}, "
              f"ROC AUC {roc_auc_score(audit['income'] == POSITIVE, score):.3f}, "
              f"shortlisted {(decision == POSITIVE).mean():.1%}")
    audit[AUDIT_COLUMNS].to_csv(HERE / "profiles.csv", index=False)
    print(f"wrote {HERE / 'profiles.csv'} ({len(audit)} rows), trained on {len(train)} rows")


if __name__ == "__main__":
    main()
