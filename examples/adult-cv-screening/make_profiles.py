"""Write short CV-screening profiles from UCI Adult rows: GENERATED TEXTS, not real applications.

Each profile is a few sentences built from four Adult columns of one person: occupation,
education, hours-per-week and relationship / marital-status, written with the person's pronouns
(from the Adult `sex` column: he/him/his/himself or she/her/herself) and, for married people who
live with their spouse, the relation noun the `relationship` column gives (husband / wife). Age,
race, native country, capital gains and the person's sex as a word are never written. Which of a
few templates each sentence uses, their order and an optional closing sentence are drawn by a
generator seeded with the person's id, so the same person always gets the same text and the text
written as if of the other sex (`profile(row, swap=True)`) differs only in its gendered words.

Rows come from ../adult-hiring/prepare.py's `load_adult` (the UCI Adult census extract in
../data/adult/, CC BY 4.0; `person_id` P00001... as in ../adult-hiring/adult.parquet). A seeded
sample of 10,000 people is split (stratified by income) into 6,000 for training the models
(train.py) and 4,000 for the audit.

Writes (deterministic):
- profiles.csv : the 4,000 audit people: person_id, profile, sex, race, age, income

Run: python examples/adult-cv-screening/make_profiles.py
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
PREPARE = HERE.parent / "adult-hiring" / "prepare.py"
SEED = 20261122
N_TRAIN, N_AUDIT = 6_000, 4_000
AUDIT_COLUMNS = ["person_id", "profile", "sex", "race", "age", "income"]

# The only gendered words a profile can contain (lower case). Removed from the training text
# of the neutral model (train.py) and swapped by measure_swaps.py.
GENDERED = ("he", "she", "him", "her", "his", "himself", "herself", "husband", "wife")
PRONOUNS = {
    "Male": {"he": "he", "him": "him", "his": "his", "himself": "himself"},
    "Female": {"he": "she", "him": "her", "his": "her", "himself": "herself"},
}

FIELD = {  # occupation -> the field a person "works in"
    "Adm-clerical": "administrative and clerical work",
    "Armed-Forces": "the armed forces",
    "Craft-repair": "a craft or repair trade",
    "Exec-managerial": "management",
    "Farming-fishing": "farming or fishing",
    "Handlers-cleaners": "handling and cleaning",
    "Machine-op-inspct": "machine operation and inspection",
    "Other-service": "service work",
    "Priv-house-serv": "private household service",
    "Prof-specialty": "a professional specialty",
    "Protective-serv": "protective services",
    "Sales": "sales",
    "Tech-support": "technical support",
    "Transport-moving": "transport and moving",
}
EDUCATION = {  # education -> what "{he} ..." did
    "Preschool": "did not go to school beyond preschool",
    "1st-4th": "left school after the 4th grade",
    "5th-6th": "left school after the 6th grade",
    "7th-8th": "left school after the 8th grade",
    "9th": "left school after the 9th grade",
    "10th": "left school after the 10th grade",
    "11th": "left school after the 11th grade",
    "12th": "finished the 12th grade without a diploma",
    "HS-grad": "holds a high school diploma",
    "Some-college": "attended some college without a degree",
    "Assoc-voc": "holds a vocational associate degree",
    "Assoc-acdm": "holds an academic associate degree",
    "Bachelors": "holds a bachelor's degree",
    "Masters": "holds a master's degree",
    "Prof-school": "holds a professional school degree",
    "Doctorate": "holds a doctorate",
}
MARITAL = {  # marital-status (not married to a spouse at home) -> "{he} is ..."
    "Never-married": "single",
    "Divorced": "divorced",
    "Separated": "separated",
    "Widowed": "widowed",
    "Married-civ-spouse": "married",
    "Married-AF-spouse": "married",
    "Married-spouse-absent": "married but lives apart from {his} spouse",
}
HOUSEHOLD = {  # relationship (other than Husband / Wife) -> where "{he} ..." lives
    "Own-child": "lives with {his} parents",
    "Other-relative": "lives with relatives",
    "Not-in-family": "does not live with family",
    "Unmarried": "heads {his} own family household",
}
WORK = (
    "{He} works in {field}, about {hours} hours a week.",
    "{His} job is in {field}, where {he} works about {hours} hours a week.",
    "{He} spends about {hours} hours a week working in {field}.",
)
WORK_UNKNOWN = (
    "{He} gives no occupation and works about {hours} hours a week.",
    "{His} occupation is not stated; {he} works about {hours} hours a week.",
)
STUDY = ("{He} {education}.", "As for schooling, {he} {education}.")
SPOUSE = ("{He} is married and lives with {his} {spouse}.", "{He} lives with {his} {spouse}; they are married.")
HOME = ("{He} is {marital} and {household}.", "{He} {household} and is {marital}.")
CLOSING = (  # carries nothing about the person: drawn at random, half of the profiles have none
    "{He} describes {himself} as reliable.",
    "Colleagues describe {him} as a team player.",
    "{He} is looking for a new position.",
    "{He} considers {himself} a quick learner.",
)


def _hours(hours: int) -> str:
    """Hours per week as written: rounded to 5 (at least 5)."""
    return str(max(5, int(5 * round(hours / 5))))


def _fill(template: str, words: dict[str, str], **values: str) -> str:
    """Fill a template: {he}/{He}/{his}/... are the person's pronouns, other fields are ``values``."""
    fields = dict(values)
    for key, word in words.items():
        fields[key] = word
        fields[key.capitalize()] = word.capitalize()
    text = template.format(**fields)
    return text.format(**fields) if "{" in text else text  # values may hold {his}


def profile(row: pd.Series, *, swap: bool = False) -> str:
    """The profile of one Adult row; ``swap``: written with the other sex's words (he/she, husband/wife...).

    The template choices depend only on the person's id, never on the sex, so a text and its
    swapped text differ exactly in their gendered words.
    """
    rng = np.random.default_rng([SEED, int(row["person_id"][1:])])
    sex = row["sex"] if not swap else {"Male": "Female", "Female": "Male"}[row["sex"]]
    words = PRONOUNS[sex]
    choice = rng.integers(0, 6, size=5)  # one draw per slot, used modulo each slot's number of templates
    hours = _hours(int(row["hours-per-week"]))
    occupation = row["occupation"]
    if isinstance(occupation, str):
        work = _fill(WORK[choice[0] % len(WORK)], words, field=FIELD[occupation], hours=hours)
    else:
        work = _fill(WORK_UNKNOWN[choice[0] % len(WORK_UNKNOWN)], words, hours=hours)
    study = _fill(STUDY[choice[1] % len(STUDY)], words, education=EDUCATION[row["education"]])
    relationship = row["relationship"]
    if relationship in ("Husband", "Wife"):  # the person is a husband (spouse: wife) or a wife
        spouse = "wife" if (relationship == "Husband") != swap else "husband"
        home = _fill(SPOUSE[choice[2] % len(SPOUSE)], words, spouse=spouse)
    else:
        home = _fill(HOME[choice[2] % len(HOME)], words, marital=MARITAL[row["marital-status"]],
                     household=HOUSEHOLD[relationship])
    sentences = [work, study, home]
    if choice[3] % 2:  # work first or last
        sentences = [study, home, work]
    if choice[4] < len(CLOSING):
        sentences.append(_fill(CLOSING[choice[4]], words))
    return " ".join(sentences)


def neutralise(text: str) -> str:
    """The text without its gendered words (the neutral model's training text)."""
    pattern = r"\b(?:" + "|".join(GENDERED) + r")\b"
    return re.sub(r"\s+", " ", re.sub(pattern, "", text, flags=re.IGNORECASE)).strip()


def load_adult() -> pd.DataFrame:
    """All 48,842 Adult rows as ../adult-hiring/prepare.py reads them (same person_id)."""
    found = importlib.util.spec_from_file_location("adult_hiring_prepare", PREPARE)
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module.load_adult()


def load_sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training, audit): 6,000 and 4,000 seeded, income-stratified Adult rows with a `profile` column."""
    data = load_adult()
    pool = data.sample(n=N_TRAIN + N_AUDIT, random_state=SEED)
    train, audit = train_test_split(pool, train_size=N_TRAIN, test_size=N_AUDIT, random_state=SEED,
                                    stratify=pool["income"])
    parts = []
    for part in (train, audit):
        part = part.sort_values("person_id").reset_index(drop=True)
        part.insert(1, "profile", [profile(row) for _, row in part.iterrows()])
        parts.append(part)
    return parts[0], parts[1]


def main() -> None:
    _, audit = load_sample()
    audit[AUDIT_COLUMNS].to_csv(HERE / "profiles.csv", index=False)
    print(f"wrote {HERE / 'profiles.csv'} ({len(audit)} rows)")


if __name__ == "__main__":
    main()
