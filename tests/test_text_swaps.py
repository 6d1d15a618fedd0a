"""Term swaps for the text flip test (audit/text/swaps.py): grammar, whole words, multi-word entries, the lists."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pytest

from audit.errors import AuditInputError
from audit.text import (
    SwapFamily,
    SwapPair,
    family_versions,
    load_families,
    merge_families,
    swap_text,
    swap_texts,
)

FAMILIES = {f.name: f for f in load_families()}
ALL = merge_families(list(FAMILIES.values()))


def swapped(text: str, family: str | SwapFamily = "pronouns") -> str:
    fam = family if isinstance(family, SwapFamily) else FAMILIES[family]
    return swap_text(text, family=fam).text


# --- pronouns: her -> his or him by grammar ------------------------------------------------------

PRONOUN_CASES = [
    ("She gave her book to him.", "He gave his book to her."),
    ("I gave the book to her.", "I gave the book to him."),
    ("I met her yesterday.", "I met him yesterday."),
    ("I saw her and her sister.", "I saw him and his sister."),
    ("Her application was rejected.", "His application was rejected."),
    ("The decision is his.", "The decision is hers."),
    ("His income is stable.", "Her income is stable."),
    ("She said the car was hers.", "He said the car was his."),
    ("She'll call him tomorrow.", "He'll call her tomorrow."),
    ("She’d seen him.", "He’d seen her."),
    ("SHE SIGNED HER NAME.", "HE SIGNED HIS NAME."),
    ("She paid for it herself.", "He paid for it himself."),
    ("He asked her to leave.", "She asked him to leave."),
    ("Thank her very much.", "Thank him very much."),
    ("Her very old car broke down.", "His very old car broke down."),
    ("We told her about the loan.", "We told him about the loan."),
    ("He lives on his own.", "She lives on her own."),
    ("The officer let her go.", "The officer let him go."),
    ("Her 3 children live with her.", "His 3 children live with him."),
    ("We offered her a job.", "We offered him a job."),
    ("Is this his? Yes, his.", "Is this hers? Yes, hers."),
    ("She's sure he's right.", "He's sure she's right."),
    ("He saw her recently.", "She saw him recently."),
    ("Her recently approved loan", "His recently approved loan"),
    ("He called her back later.", "She called him back later."),
    ("Her back pain is chronic.", "His back pain is chronic."),
    ("We saw her last week.", "We saw him last week."),
    ("Her last job ended.", "His last job ended."),
    ("It was his and hers.", "It was hers and his."),
    ("The clerk gave her her keys.", "The clerk gave him his keys."),
    ('"Her?" he asked.', '"Him?" she asked.'),
    ("Ask her: is it hers?", "Ask him: is it his?"),
    ("Her well-being matters to her,\nand to him.", "His well-being matters to him,\nand to her."),
    ("The choice is his alone.", "The choice is hers alone."),
    ("He himself approved her loan", "She herself approved his loan"),
    ("Each applicant signs his or her form.", "Each applicant signs her or his form."),
    ("It is his or hers.", "It is hers or his."),
    ("Send it to him or her.", "Send it to her or him."),
    ("We met her and his brother.", "We met him and her brother."),
]


@pytest.mark.parametrize(("text", "expected"), PRONOUN_CASES)
def test_pronouns_by_grammar(text: str, expected: str) -> None:
    assert swapped(text) == expected


@pytest.mark.parametrize(("text", "expected"), PRONOUN_CASES)
def test_pronoun_swap_round_trips(text: str, expected: str) -> None:
    """Swapping back gives the original text: no form is lost on the way."""
    assert swapped(expected) == text


# The heuristic's documented failures (module docstring): pinned so the docstring stays true.
KNOWN_FAILURES = [
    ("They gave her money.", "They gave his money."),  # second object read as her noun
    ("It made her happy.", "It made his happy."),  # complement read as her noun
    ("They let her leave.", "They let his leave."),  # verb that is also a noun
    ("They drove her home.", "They drove his home."),
    ("Her back is sore.", "Him back is sore."),  # noun read as an adverb
    ('Her "new" car', 'Him "new" car'),  # a noun phrase starting with punctuation
    ("It is her's.", "It is him's."),
    ("A friend of his called.", "A friend of her called."),
    ("his and her towels", "hers and his towels"),  # a determiner coordinated by "and"
]


@pytest.mark.parametrize(("text", "current"), KNOWN_FAILURES)
def test_known_failures_are_as_documented(text: str, current: str) -> None:
    assert swapped(text) == current


# --- whole words only -----------------------------------------------------------------------------

SUBSTRING_WORDS = [
    "roman", "Sherman", "hero", "therapist", "Hermione", "heritage", "Chester", "manila", "Germany",
    "human", "manager", "smother", "Thermos", "ashes", "sheer", "shell", "theme", "other", "heather",
    "Davidson", "Johnson", "Jamestown", "Marysville", "Andrews", "dilemma", "Sonya", "Romania", "amenable",
]  # fmt: skip


@pytest.mark.parametrize("family", [*FAMILIES, "all"])
def test_no_substring_is_swapped_inside_a_word(family: str) -> None:
    fam = ALL if family == "all" else FAMILIES[family]
    for variant in (str.lower, str.upper, str.title, lambda w: w):
        text = " ".join(variant(w) for w in SUBSTRING_WORDS) + "."
        result = swap_text(text, family=fam)
        assert result.text == text, family
        assert result.n_swaps == 0


def test_apostrophes_and_hyphens_end_a_word() -> None:
    assert swapped("his ex-wife's car", ALL) == "her ex-husband's car"
    assert swapped("The grandson's mother-like care", "nouns") == "The granddaughter's father-like care"
    assert swapped("Mary-Kate", "first_names") == "James-Kate"


# --- case ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("she", "he"),
        ("She", "He"),
        ("SHE", "HE"),
        ("Emily", "Donald"),
        ("EMILY", "DONALD"),
        ("emily", "donald"),
        ("Mother-In-Law", "Father-In-Law"),
        ("Mother-in-law", "Father-in-law"),
        ("MOTHER-IN-LAW", "FATHER-IN-LAW"),
        ("Best Man", "Maid Of Honor"),
        ("Yes, Sir.", "Yes, Madam."),
        ("Yes, ma’am.", "Yes, sir."),
    ],
)
def test_case_is_carried_over(text: str, expected: str) -> None:
    assert swapped(text, ALL) == expected


def test_titles_match_only_as_written() -> None:
    titles = FAMILIES["titles"]
    assert swapped("Mr. and Mrs. Smith met Ms Lee and Miss Jones.", titles) == (
        "Ms. and Mr. Smith met Mr Lee and Mr Jones."
    )
    for text in ("MS is an illness.", "An MR scan.", "Do not miss a payment.", "Miss a payment and pay a fee."):
        assert swapped(text, titles) == text


# --- multi-word entries ---------------------------------------------------------------------------


def test_multi_word_entries_win_over_their_words() -> None:
    nouns = FAMILIES["nouns"]
    assert swapped("The best man gave a toast.", nouns) == "The maid of honor gave a toast."
    assert swapped("The maid of honour and the matron of honor", nouns) == "The best man and the best man"
    assert swapped("She is the best woman for the job.", ALL) == "He is the best man for the job."
    assert swapped("He is the best man for the job.", ALL) == "She is the best woman for the job."
    assert swapped("the leading lady", nouns) == "the leading man"  # not "leading gentleman"
    assert swapped("the men's room", nouns) == "the ladies' room"  # not "women's room"
    assert swapped("the ladies’ room", nouns) == "the men’s room"
    result = swap_text("My mother-in-law called.", family=nouns)
    assert result.text == "My father-in-law called."
    assert result.swapped_terms == (("mother-in-law", "father-in-law"),)


def test_multi_word_entries_match_across_spaces_and_line_breaks() -> None:
    assert swapped("the maid  of\n honor", "nouns") == "the best man"


def test_keep_phrases_are_left_alone() -> None:
    nouns = FAMILIES["nouns"]
    text = "A man-made lake on the Isle of Man; no man's land; a man-in-the-middle attack; Mother Nature."
    result = swap_text(text, family=nouns)
    assert result.text == text
    assert result.n_swaps == 0
    assert swapped("The man made a man-made lake.", nouns) == "The woman made a man-made lake."


# --- one pass ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("he and she", "she and he"),
        ("his or her car", "her or his car"),
        ("husband and wife", "wife and husband"),
        ("Mary and James", "James and Mary"),
        ("Mr. and Ms. Lee", "Ms. and Mr. Lee"),
        (
            "She told her husband that he, not she, is the best man.",
            "He told his wife that she, not he, is the maid of honor.",
        ),
    ],
)
def test_no_double_swap(text: str, expected: str) -> None:
    assert swapped(text, ALL) == expected


def test_merging_families_that_disagree_is_refused() -> None:
    other = SwapFamily(name="x", version="1", source="test", notes="", pairs=(SwapPair("lady", "lord"),))
    with pytest.raises(ValueError, match="lady"):
        merge_families([FAMILIES["nouns"], other])


# --- the lists -----------------------------------------------------------------------------------


def _context(pair: SwapPair, word: str) -> str:
    if pair.role == "determiner":
        return f"{word} car"
    if pair.role == "pronoun":
        return f"It is {word}."
    if pair.before_name:
        return f"{word} Smith"
    return word


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_pair_is_swapped_both_ways(family: str) -> None:
    fam = FAMILIES[family]
    for pair in fam.pairs:
        for source, target in pair.directions():
            text = _context(pair, source)
            assert swapped(text, fam) == text.replace(source, target, 1), (family, source)
        if pair.one_way is None:
            assert len(pair.directions()) == 2


def test_one_way_pairs_are_few_and_explained() -> None:
    one_way = [(f.name, p.female) for f in FAMILIES.values() for p in f.pairs if p.one_way]
    assert sorted(one_way) == sorted(
        [("titles", "Mrs"), ("titles", "Miss"), ("titles", "ma'am"), ("nouns", "maid of honour"),
         ("nouns", "matron of honor")]
    )  # fmt: skip
    assert "one way" in FAMILIES["titles"].notes


def test_the_families_and_their_sizes() -> None:
    assert set(FAMILIES) == {"pronouns", "titles", "nouns", "first_names"}
    sizes = {name: len(f.pairs) for name, f in FAMILIES.items()}
    assert sizes["pronouns"] == 5
    assert sizes["first_names"] == 40
    assert sizes["nouns"] >= 70
    assert any(" " in p.female or "-" in p.female for p in FAMILIES["nouns"].pairs)


COMMON_WORDS = set(
    """
    will mark bill rose may june grace hope faith joy art hunter summer go do carol amber heather frank jack pat
    sue ray dawn april august autumn sky river lily olive ivy ruby pearl crystal sunny rich chase chip rob don guy
    gene bob matt nick drew dick penny max lane clay cliff dale glen wade miles dean rod gale skip buck colt rusty
    destiny harmony melody brook robin holly violet daisy iris jade ginger candy misty stormy star angel princess
    precious justice king major royal ace genesis bud sandy mercy charity patience page piper gay gray grant
    january february march july september october november december
    monday tuesday wednesday thursday friday saturday sunday
    virginia georgia jordan carolina india china chad
    """.split()
)


def test_names_are_not_common_words() -> None:
    names = FAMILIES["first_names"]
    females = [p.female for p in names.pairs]
    males = [p.male for p in names.pairs]
    assert len(set(females)) == len(females) == 40
    assert len(set(males)) == len(males) == 40
    assert not set(females) & set(males)
    everything = {n.lower() for n in females + males}
    assert not everything & COMMON_WORDS
    assert all(re.fullmatch(r"[A-Z][a-z]+", n) for n in females + males)  # one plain form each
    for name in ("Karen", "Carol", "Mark"):  # skipped by the rule in the notes, and named there
        assert name in names.notes
        assert name.lower() not in everything


def test_names_cite_their_source_and_leave_ethnicity_out() -> None:
    names = FAMILIES["first_names"]
    assert "Social Security Administration" in names.source
    assert "public domain" in names.source
    assert "Selection rule" in names.notes
    assert "ethnicity" in names.notes


def test_every_family_has_a_version_and_a_source() -> None:
    for fam in FAMILIES.values():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.\d+", fam.version), fam.name
        assert fam.source.strip()
        assert fam.notes.strip()
    assert family_versions() == {name: f.version for name, f in FAMILIES.items()}
    assert family_versions([FAMILIES["pronouns"]]) == {"pronouns": FAMILIES["pronouns"].version}


def test_the_lists_ship_inside_the_package() -> None:
    folder = resources.files("audit.text").joinpath("swap_lists")
    shipped = sorted(f.name for f in folder.iterdir() if f.name.endswith(".yaml"))
    assert shipped == ["first_names.yaml", "nouns.yaml", "pronouns.yaml", "titles.yaml"]


def test_load_families_by_name_in_order() -> None:
    assert [f.name for f in load_families(["titles", "pronouns"])] == ["titles", "pronouns"]
    with pytest.raises(ValueError, match="unknown swap family 'gender'"):
        load_families(["gender"])
    with pytest.raises(TypeError):
        load_families("pronouns")


# --- counts --------------------------------------------------------------------------------------


def test_swap_texts_counts_match_a_count_by_hand() -> None:
    texts = [
        "Mary Smith applied; her husband co-signs.",  # Mary, her, husband
        "No gendered word here: the roman heritage of Germany.",
        "Mr. and Mrs. Lee told her mother-in-law about his loan.",  # Mr, Mrs, her, mother-in-law, his
        "",
    ]
    out, counts = swap_texts(texts, family=ALL)
    assert counts.dtype == np.int64
    assert counts.tolist() == [3, 0, 5, 0]
    assert out[0] == "James Smith applied; his wife co-signs."
    assert out[1] == texts[1]
    assert out[2] == "Ms. and Mr. Lee told his father-in-law about her loan."
    with pytest.raises(TypeError):
        swap_texts("one string", family=ALL)


# --- custom lists --------------------------------------------------------------------------------


def _write(tmp_path, body: str):
    path = tmp_path / "custom.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_custom_list_loads_from_a_path(tmp_path) -> None:
    path = _write(
        tmp_path,
        'name: roles\nversion: "2026-11-30.1"\nsource: test\nnotes: test\npairs:\n  - [nun, monk]\n',
    )
    (fam,) = load_families(path=path)
    assert swapped("The nun met a monk.", fam) == "The monk met a nun."
    assert load_families(path=tmp_path)[0] == fam


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("name: x\nversion: 2026-11-30\nsource: s\nnotes: n\npairs: [[a, b]]\n", "version"),
        ('name: x\nversion: "1"\nsource: s\nnotes: n\npairs: [[a, b, c]]\n', "pairs[0]"),
        ('name: x\nversion: "1"\nsource: s\nnotes: n\npairs: [[her, his], [her, him]]\n', "pairs"),
        ('name: x\nversion: "1"\nsource: s\nnotes: n\npairs: [{female: a, male: b, role: subject}]\n', "pairs[0]"),
        ('name: x\nversion: "1"\nsource: s\nnotes: n\npairs: [{female: a, mal: b}]\n', "pairs[0].mal"),
        ('name: x\nversion: "1"\nsource: s\nnotes: n\npairs: [[a, b]]\nkeep: [a]\n', "pairs"),
        ('name: x\nversion: "1"\nsource: s\nnotes: n\npairs: [["a ", b]]\n', "pairs[0]"),
        ('name: x\nversion: "1"\nsource: s\nnotes: n\npairs: [[a, b]]\nauthor: me\n', "author"),
    ],
)
def test_a_bad_list_is_refused_naming_the_field(tmp_path, body: str, field: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(AuditInputError) as info:
        load_families(path=path)
    assert f"field '{field}'" in str(info.value)
    assert str(path) in str(info.value)


def test_malformed_yaml_and_missing_path(tmp_path) -> None:
    path = _write(tmp_path, "name: [unclosed\n")
    with pytest.raises(AuditInputError, match="not valid YAML"):
        load_families(path=path)
    with pytest.raises(AuditInputError, match="swap list not found"):
        load_families(path=tmp_path / "nope.yaml")
