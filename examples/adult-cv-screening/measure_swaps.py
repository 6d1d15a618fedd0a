"""Measure how much each model's decisions move when only the gendered words of a profile are swapped.

Reads profiles.csv and both models; swaps he<->she, him<->her, his<->her, himself<->herself and
husband<->wife with a regular expression (a possessive "her" becomes "his", an object "her" -
followed by "as", "to", punctuation or the end - becomes "him"); checks the swapped texts against
the ones make_profiles.py writes for the other sex (they must be equal); reports, per model, the
share of people whose decision (shortlist or not) changes and how far the probability moves.

For model.skops it also checks, for one row, that coefficient x tf-idf value summed over the words
of the profile, plus the intercept, equals decision_function (to 1e-9).

Run: python examples/adult-cv-screening/measure_swaps.py
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import skops.io as sio
from make_profiles import HERE, load_adult, profile

POSITIVE = ">50K"
SWAP = {"he": "she", "she": "he", "him": "her", "his": "her", "himself": "herself", "herself": "himself",
        "husband": "wife", "wife": "husband"}
WORD = re.compile(r"\b(he|she|him|his|her|himself|herself|husband|wife)\b(?=(\s*\w+)?)", re.IGNORECASE)


def swap_gender(text: str) -> str:
    """The text with its gendered words swapped (capitalisation kept)."""
    def replace(match: re.Match[str]) -> str:
        word = match.group(1)
        lower = word.lower()
        if lower == "her":
            following = (match.group(2) or "").strip().lower()
            new = "him" if following in ("", "as", "to") else "his"
        else:
            new = SWAP[lower]
        return new.capitalize() if word[0].isupper() else new
    return WORD.sub(replace, text)


def load(name: str):  # noqa: ANN201 - sklearn Pipeline
    """Load a skops model, refusing it if it holds a type skops does not trust by default."""
    path = HERE / name
    untrusted = sio.get_untrusted_types(file=path)
    print(f"{name}: types skops does not trust by default: {untrusted or 'none'}")
    if untrusted:
        raise SystemExit(f"{name}: not loaded (untrusted types)")
    return sio.load(path, trusted=[])


def check_attribution(model, row: pd.DataFrame) -> float:  # noqa: ANN001
    """|sum(coef x tf-idf) + intercept - decision_function| for one row."""
    encode, linear = model.named_steps["encode"], model.named_steps["model"]
    values = encode.transform(row).tocsr()
    names = encode.get_feature_names_out()
    contributions = {names[j]: linear.coef_[0, j] * v for j, v in zip(values.indices, values.data, strict=True)}
    total = sum(contributions.values()) + linear.intercept_[0]
    gap = abs(total - model.decision_function(row)[0])
    top = sorted(contributions.items(), key=lambda kv: -abs(kv[1]))[:6]
    print(f"  row {row.index[0]}: {row['profile'].iloc[0]!r}")
    print("  largest word contributions: " + ", ".join(f"{k} {v:+.3f}" for k, v in top))
    print(f"  sum(coef x tf-idf) + intercept = {total:.12f}; decision_function = "
          f"{model.decision_function(row)[0]:.12f}; |difference| = {gap:.1e}")
    return gap


def main() -> None:
    data = pd.read_csv(HERE / "profiles.csv")
    swapped = data.assign(profile=data["profile"].map(swap_gender))
    rows = load_adult().set_index("person_id").loc[data["person_id"]].reset_index()
    exact = [profile(row, swap=True) for _, row in rows.iterrows()]
    mismatches = int((swapped["profile"] != pd.Series(exact)).sum())
    print(f"{len(data)} profiles; regex swap differs from the other-sex text make_profiles.py writes in "
          f"{mismatches} of them")
    if mismatches:
        raise SystemExit("the regex swap is wrong")
    for name in ("model.skops", "model-neutral.skops"):
        model = load(name)
        positive = list(model.classes_).index(POSITIVE)
        before = model.predict_proba(data[["profile"]])[:, positive]
        after = model.predict_proba(swapped[["profile"]])[:, positive]
        flips = model.predict(data[["profile"]]) != model.predict(swapped[["profile"]])
        move = np.abs(after - before)
        print(f"  flip rate {flips.mean():.2%} ({flips.sum()} of {len(data)}); "
              f"|change in P(shortlist)| mean {move.mean():.4f}, max {move.max():.4f}")
        for sex in ("Female", "Male"):
            mask = (data["sex"] == sex).to_numpy()
            print(f"    {sex} written as the other sex: {flips[mask].mean():.2%} flip "
                  f"({flips[mask].sum()} of {mask.sum()}), shortlisted {(before[mask] >= 0.5).mean():.1%} -> "
                  f"{(after[mask] >= 0.5).mean():.1%}, mean P(shortlist) change {(after - before)[mask].mean():+.4f}")
        if name == "model.skops":
            words = model.named_steps["encode"].get_feature_names_out()
            coef = model.named_steps["model"].coef_[0]
            gendered = {w.split("__")[-1]: round(float(c), 3) for w, c in zip(words, coef, strict=True)
                        if w.split("__")[-1] in SWAP or w.split("__")[-1] == "her"}
            print(f"  coefficients of the gendered words: {gendered}")
            gap = check_attribution(model, data.iloc[[0]][["profile"]])
            if gap > 1e-9:
                raise SystemExit("attributions do not add up")


if __name__ == "__main__":
    main()
