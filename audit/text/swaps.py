"""Term swaps for a text flip test: does the decision change when only the gendered words change?

The text twin of the tabular flip test (audit/counterfactual/flip.py): each text
is rewritten with its gendered terms swapped (she -> he, Mrs -> Mr, wife ->
husband, Mary -> James, and back), the model decides again, and the share of
decisions that flip measures disparate treatment. Such a test is only as good as
its swaps, and the common tools get them wrong in ways that change the text's
meaning or leave gender in it: "her" always becomes "his" ("I met his
yesterday"), a term is replaced inside other words ("roman" -> "rowoman"), and
name lists hold ordinary words ("Go", "Do", "Will"). Here:

* The swap lists are data, not code: one YAML file per family under
  ``swap_lists/`` (pronouns, titles, nouns, first_names), each with a version
  (the date of its last change and a serial) and its source, so a report can say
  which lists it used (:func:`family_versions`). Every pair is female <-> male and
  is swapped both ways, except a few marked one way (Mrs -> Mr: English has no
  distinct male counterpart). ``keep`` phrases are matched and left alone
  (man-made, Isle of Man).
* Terms match as whole words only: a match may not touch a letter, digit or
  underscore on either side (``(?<!\\w)`` and ``(?!\\w)``), so "Sherman", "hero",
  "heritage", "roman", "Germany" and "Davidson" are left alone, while an
  apostrophe or a hyphen ends a word: "she'll" -> "he'll", "wife's" ->
  "husband's", "ex-wife" -> "ex-husband". "herself" is its own entry.
* Multi-word and hyphenated entries match across any run of spaces or line
  breaks, either apostrophe (' or ’) matches either, and the longest entry at a
  position wins ("best man" -> "maid of honor", not "best woman";
  "mother-in-law" -> "father-in-law" as one swap).
* The case of the matched text carries over: she -> he, She -> He, SHE -> HE,
  Mother-In-Law -> Father-In-Law. Entries marked ``exact_case`` (Mr, Ms, Mrs,
  Miss) match only as written, so "MS" and the verb "miss" are not titles.
* One left-to-right pass over the original text: a replacement is never looked
  at again, so "he and she" becomes "she and he", not "he and he". To swap
  several families at once without one undoing another, merge them
  (:func:`merge_families`) and swap once.

"her" and "his" are each two forms of the other gender (her -> his or him; his
-> her or hers), so their pairs carry a role, and the role is read from the
words that follow, with no parser. The form is the *determiner* (her car -> his
car; his car -> her car) when the next word can start the noun phrase it
determines; it is the *pronoun* (saw her. -> saw him.; is his. -> is hers.)
when what follows is:

* nothing, or punctuation (a period, comma, quote, bracket, dash);
* a function word: a preposition, conjunction, article or other determiner,
  pronoun, auxiliary or modal verb, or a word ending in n't
  (gave it to her and ...; asked her to leave; offered her a job; gave her her keys);
* an adverb that does not sit inside a noun phrase (met her yesterday; called
  her again; saw her there);
* a common verb that is seldom a noun, as after let/make/help/see
  (let her go, made her cry);
* "last" or "next" before a time word (saw her last week).

"or" followed by another possessive determiner is looked past, so "his or her
application" -> "her or his application"; "and" is not ("saw her and his
brother" -> "saw him and her brother").

Adverbs that can modify an adjective (very, so, much, only, recently, back, ...)
are looked past and the word after them decides: "her very old car" -> "his
very old car", "thank her very much" -> "thank him very much", "her back pain"
-> "his back pain", "called her back later" -> "called him back later". "own"
marks the determiner (on her own -> on his own); a number reads as the start of
a noun phrase (her 3 children -> his 3 children).

Known failures of this heuristic (tested as such in tests/test_text_swaps.py):

* an object followed by a second object or a complement reads as a determiner:
  "gave her money" -> "gave his money", "made her happy" -> "made his happy",
  "called her names" -> "called his names";
* a verb that is also a noun reads as a noun: "let her leave" -> "let his
  leave", "saw her work" -> "saw his work"; "drove her home" -> "drove his home";
* a noun read as an adverb: "her back is sore" -> "him back is sore";
* a determiner coordinated by "and" reads as a pronoun: "his and her car" ->
  "hers and his car";
* an independent "his" before a verb reads as a determiner: "a friend of his
  called" -> "a friend of her called";
* a noun phrase that starts with punctuation: 'her "new" car' -> 'him "new" car';
* the misspelling "her's" becomes "him's".

Other known limits: a first name used as a surname is swapped (Mr. Scott);
generic "man" and "he" are swapped outside the keep list; all-capital titles
(MRS SMITH) are not swapped; "Miss" is swapped only before a capitalised word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from os import PathLike
from pathlib import Path

import numpy as np
import yaml

from audit.errors import FILE_NOT_FOUND, SPEC_INVALID, YAML_MALFORMED, AuditInputError

__all__ = [
    "DETERMINER",
    "PRONOUN",
    "SwapFamily",
    "SwapPair",
    "SwapResult",
    "family_versions",
    "load_families",
    "merge_families",
    "swap_text",
    "swap_texts",
]

DETERMINER = "determiner"
PRONOUN = "pronoun"
_ROLES = (DETERMINER, PRONOUN)
_TO_MALE = "to_male"
_TO_FEMALE = "to_female"
_ONE_WAY = (_TO_MALE, _TO_FEMALE)
_DATA_FOLDER = "swap_lists"


@dataclass(frozen=True)
class SwapPair:
    """One female <-> male pair of a swap family.

    ``role`` says which use of an ambiguous form the pair covers (``"determiner"``
    or ``"pronoun"``); ``one_way`` (``"to_male"`` or ``"to_female"``) limits the
    swap to one direction; ``exact_case`` matches the terms only as written;
    ``before_name`` swaps only before a capitalised word.
    """

    female: str
    male: str
    role: str | None = None
    one_way: str | None = None
    exact_case: bool = False
    before_name: bool = False

    def __post_init__(self) -> None:
        for side in ("female", "male"):
            value = getattr(self, side)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{side} must be a non-empty string, got {value!r}")
            if value != value.strip() or not (_is_word_char(value[0]) and _is_word_char(value[-1])):
                raise ValueError(f"{side} {value!r} must start and end with a letter or digit")
        if _key(self.female) == _key(self.male):
            raise ValueError(f"female and male are the same term: {self.female!r}")
        if self.role is not None and self.role not in _ROLES:
            raise ValueError(f"role must be one of {', '.join(_ROLES)}, got {self.role!r}")
        if self.one_way is not None and self.one_way not in _ONE_WAY:
            raise ValueError(f"one_way must be one of {', '.join(_ONE_WAY)}, got {self.one_way!r}")

    def directions(self) -> list[tuple[str, str]]:
        """The (source, target) swaps this pair makes: both ways unless one_way says otherwise."""
        out = []
        if self.one_way != _TO_FEMALE:
            out.append((self.female, self.male))
        if self.one_way != _TO_MALE:
            out.append((self.male, self.female))
        return out


@dataclass(frozen=True)
class SwapResult:
    """A swapped text, how many terms were swapped, and each (original, replacement) in text order."""

    text: str
    n_swaps: int
    swapped_terms: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Entry:
    """What one source term (normalised) becomes: one target, or one per role."""

    term: str  # as written in the list
    pattern: str
    exact_case: bool
    before_name: bool
    targets: tuple[tuple[str | None, str], ...]  # (role, target); empty for a keep phrase


class _Matcher:
    """The compiled regular expression of a family and the entries its matches look up."""

    def __init__(self, pairs: Sequence[SwapPair], keep: Sequence[str]) -> None:
        entries: dict[str, _Entry] = {}
        for pair in pairs:
            for source, target in pair.directions():
                self._add(entries, source, target, pair.role, exact_case=pair.exact_case, before_name=pair.before_name)
        for phrase in keep:
            self._add(entries, phrase, None, None, exact_case=False, before_name=False)
        for entry in entries.values():
            if len(entry.targets) > 1 and {role for role, _ in entry.targets} != set(_ROLES):
                raise ValueError(f"{entry.term!r} has {len(entry.targets)} targets; give each pair a different role")
        self.entries = entries
        # Longest first, so a multi-word entry wins over its first word at the same position.
        ordered = sorted(entries.values(), key=lambda e: (-len(e.term), e.term))
        alternatives = "|".join(e.pattern for e in ordered) or r"(?!x)x"
        self.regex = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    @staticmethod
    def _add(
        entries: dict[str, _Entry],
        source: str,
        target: str | None,
        role: str | None,
        *,
        exact_case: bool,
        before_name: bool,
    ) -> None:
        key = _key(source)
        new_targets: tuple[tuple[str | None, str], ...] = () if target is None else ((role, target),)
        old = entries.get(key)
        if old is None:
            pattern = _term_pattern(source, exact_case=exact_case, before_name=before_name)
            entries[key] = _Entry(source, pattern, exact_case, before_name, new_targets)
            return
        if target is None or not old.targets:
            raise ValueError(f"{source!r} is both a keep phrase and a swapped term, or is kept twice")
        if (old.exact_case, old.before_name) != (exact_case, before_name):
            raise ValueError(f"{source!r} is listed twice with different exact_case or before_name")
        if role is None or any(r is None or r == role for r, _ in old.targets):
            targets = ", ".join(repr(t) for _, t in (*old.targets, (role, target)))
            raise ValueError(f"{source!r} is swapped to {targets}; give each pair a different role")
        entries[key] = _Entry(old.term, old.pattern, exact_case, before_name, old.targets + new_targets)


@dataclass(frozen=True)
class SwapFamily:
    """A versioned swap list: its name, version, source, notes, pairs and keep phrases.

    Built from ``swap_lists/*.yaml`` by :func:`load_families`; constructing one checks
    that no term is swapped to two targets without a role to choose between them.
    """

    name: str
    version: str
    source: str
    notes: str
    pairs: tuple[SwapPair, ...]
    keep: tuple[str, ...] = ()
    _matcher: _Matcher = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for attr in ("name", "version", "source"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{attr} must be a non-empty string, got {value!r}")
        object.__setattr__(self, "pairs", tuple(self.pairs))
        object.__setattr__(self, "keep", tuple(self.keep))
        for pair in self.pairs:
            if not isinstance(pair, SwapPair):
                raise ValueError(f"pairs must be SwapPair objects, got {type(pair).__name__}")
        object.__setattr__(self, "_matcher", _Matcher(self.pairs, self.keep))


def swap_text(text: str, *, family: SwapFamily) -> SwapResult:
    """Swap the family's terms in ``text``: whole words, case kept, longest match first, one pass."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(family, SwapFamily):
        raise TypeError(f"family must be a SwapFamily, got {type(family).__name__}")
    matcher = family._matcher
    swapped: list[tuple[str, str]] = []

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        entry = matcher.entries[_key(found)]
        if not entry.targets:  # a keep phrase
            return found
        if len(entry.targets) == 1:
            target = entry.targets[0][1]
        else:
            role = DETERMINER if _reads_as_determiner(match.string, match.end(), form=_key(found)) else PRONOUN
            target = next(t for r, t in entry.targets if r == role)
        out = _carry_case(found, entry.term, target, exact=entry.exact_case)
        if "’" in found:
            out = out.replace("'", "’")
        swapped.append((found, out))
        return out

    new = matcher.regex.sub(replace, text)
    return SwapResult(text=new, n_swaps=len(swapped), swapped_terms=tuple(swapped))


def swap_texts(texts: Sequence[str], *, family: SwapFamily) -> tuple[list[str], np.ndarray]:
    """Swap every text; return the swapped texts and the number of swaps in each (an int64 array)."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    results = [swap_text(t, family=family) for t in texts]
    return [r.text for r in results], np.array([r.n_swaps for r in results], dtype=np.int64)


def merge_families(families: Sequence[SwapFamily]) -> SwapFamily:
    """One family holding the pairs of several, so they are swapped in a single pass.

    Swapping families one after another can undo a swap (a term one family
    swapped in is swapped back by the next); a merged family cannot. Raises
    ValueError when two families swap the same term to different targets.
    """
    if isinstance(families, SwapFamily) or not families:
        raise ValueError("give a non-empty sequence of SwapFamily objects")
    return SwapFamily(
        name="+".join(f.name for f in families),
        version="+".join(f.version for f in families),
        source="; ".join(f"{f.name}: {f.source}" for f in families),
        notes="Merged from " + ", ".join(f"{f.name} {f.version}" for f in families) + ".",
        pairs=tuple(p for f in families for p in f.pairs),
        keep=tuple(dict.fromkeys(k for f in families for k in f.keep)),
    )


def family_versions(families: Sequence[SwapFamily] | None = None) -> dict[str, str]:
    """Name -> version of the given families (the packaged ones by default), for the report."""
    chosen = load_families() if families is None else families
    return {f.name: f.version for f in chosen}


def load_families(names: Sequence[str] | None = None, *, path: str | PathLike[str] | None = None) -> list[SwapFamily]:
    """Read swap families: the packaged lists, or a YAML file or folder of YAML files at ``path``.

    With ``names``, only those families, in that order (ValueError on an unknown
    name); without, all of them, ordered by name. A file that is not a valid swap
    list raises AuditInputError naming the file and field.
    """
    if isinstance(names, str):
        raise TypeError("names must be a sequence of family names, not one string")
    files = _packaged_files() if path is None else _files_at(Path(path))
    families: dict[str, SwapFamily] = {}
    for file in files:
        family = _parse_family(file)
        if family.name in families:
            raise AuditInputError(
                SPEC_INVALID, path=file, field="name", problem=f"a second family is named '{family.name}'"
            )
        families[family.name] = family
    if names is None:
        return [families[n] for n in sorted(families)]
    unknown = [n for n in names if n not in families]
    if unknown:
        raise ValueError(f"unknown swap family {unknown[0]!r} (families: {', '.join(sorted(families))})")
    return [families[n] for n in names]


# --- reading the YAML ---------------------------------------------------------------------------

_FAMILY_KEYS = {"name", "version", "source", "notes", "pairs", "keep"}
_PAIR_KEYS = {"female", "male", "role", "one_way", "exact_case", "before_name"}


def _packaged_files() -> list[Traversable]:
    folder = resources.files("audit.text").joinpath(_DATA_FOLDER)
    return sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)


def _files_at(path: Path) -> list[Traversable]:
    if path.is_dir():
        return sorted(path.glob("*.yaml"), key=lambda f: f.name)
    if path.is_file():
        return [path]
    raise AuditInputError(FILE_NOT_FOUND, what="swap list", path=path, hint="give a YAML file or a folder of them")


def _parse_family(file: Traversable) -> SwapFamily:
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else "?"
        raise AuditInputError(YAML_MALFORMED, path=file, line=line, problem=str(exc).splitlines()[0]) from None

    def bad(where: str, problem: str) -> AuditInputError:
        return AuditInputError(SPEC_INVALID, path=file, field=where, problem=problem)

    if not isinstance(raw, dict):
        raise bad("(top level)", "expected a mapping with name, version, source, notes and pairs")
    extra = sorted(set(raw) - _FAMILY_KEYS)
    if extra:
        raise bad(str(extra[0]), f"not a field of a swap family (fields: {', '.join(sorted(_FAMILY_KEYS))})")
    for key in ("name", "version", "source", "notes"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise bad(key, 'expected a non-empty string (quote a version such as "2026-11-30.1")')
    pairs_raw = raw.get("pairs")
    if not isinstance(pairs_raw, list) or not pairs_raw:
        raise bad("pairs", "expected a non-empty list of [female, male] pairs")
    pairs = [_parse_pair(item, f"pairs[{i}]", bad) for i, item in enumerate(pairs_raw)]
    keep_raw = raw.get("keep") or []
    if not isinstance(keep_raw, list) or not all(isinstance(k, str) and k.strip() for k in keep_raw):
        raise bad("keep", "expected a list of phrases")
    try:
        return SwapFamily(
            name=raw["name"], version=raw["version"], source=raw["source"].strip(),
            notes=raw["notes"].strip(), pairs=tuple(pairs), keep=tuple(keep_raw),
        )  # fmt: skip
    except ValueError as exc:
        raise bad("pairs", str(exc)) from None


def _parse_pair(item: object, where: str, bad: Callable[[str, str], AuditInputError]) -> SwapPair:
    if isinstance(item, list):
        if len(item) != 2:
            raise bad(where, f"expected [female, male], got {len(item)} items")
        fields: dict[str, object] = {"female": item[0], "male": item[1]}
    elif isinstance(item, dict):
        extra = sorted(set(item) - _PAIR_KEYS)
        if extra:
            raise bad(f"{where}.{extra[0]}", f"not a field of a pair (fields: {', '.join(sorted(_PAIR_KEYS))})")
        if "female" not in item or "male" not in item:
            raise bad(where, "a pair needs both female and male")
        fields = dict(item)
    else:
        raise bad(where, "expected [female, male] or a mapping with female and male")
    for flag in ("exact_case", "before_name"):
        if not isinstance(fields.get(flag, False), bool):
            raise bad(f"{where}.{flag}", "expected true or false")
    try:
        return SwapPair(**fields)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise bad(where, str(exc)) from None


# --- matching -----------------------------------------------------------------------------------


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _key(term: str) -> str:
    """The lookup key of a term or a match: lower case, one space between words, straight apostrophes."""
    return " ".join(term.replace("’", "'").lower().split())


def _term_pattern(term: str, *, exact_case: bool, before_name: bool) -> str:
    words = []
    for word in term.split():
        words.append("".join("['’]" if ch in "'’" else re.escape(ch) for ch in word))
    pattern = r"\s+".join(words)
    if exact_case:
        pattern = f"(?-i:{pattern})"
    if before_name:
        pattern += r"(?=\.?\s+(?-i:[A-ZÀ-ÖØ-Þ]))"
    return pattern


def _carry_case(found: str, term: str, target: str, *, exact: bool) -> str:
    """The target in the case of the matched text (the list's own spelling when the match is as written)."""
    if exact or found == term:
        return target
    letters = [c for c in found if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return target.upper()
    if all(c.islower() for c in letters):
        return target.lower()
    words = [w for w in re.split(r"[\s\-]+", found) if w]
    if len(words) > 1 and all(w[0].isupper() for w in words):
        return re.sub(r"(^|[\s\-])(\w)", lambda m: m.group(1) + m.group(2).upper(), target)
    if letters and letters[0].isupper():
        return target[:1].upper() + target[1:]
    return target


# Words after "her"/"his" that cannot start the noun phrase of a determiner: the form is a pronoun.
_FUNCTION_WORDS = frozenset(
    """
    a an the this that these those some any no every each all both either neither another such what which whose
    whom who whoever whatever many few several enough
    i me you he him she her it we us they them my your his its our their mine yours hers ours theirs
    myself yourself himself herself itself ourselves yourselves themselves
    about above across after against along among amongst around as at before behind below beneath beside besides
    between beyond by despite down during except for from in inside into like near of off on onto out outside over
    past per since through throughout till to toward towards under underneath until unto up upon via with within
    without
    and or but nor yet because although though if unless whether while whereas when where why how than once
    am is are was were be been has have had do does did will would shall should can could may might must ought
    not
    again yesterday today tonight tomorrow later soon ago away alone here there now then anyway instead together
    twice afterwards afterward earlier meanwhile please
    """.split()
)
# Common verbs, seldom nouns, that follow an object pronoun (let her go, made her cry).
_BARE_VERBS = frozenset(
    """
    go come be do get cry know think feel speak eat sleep die sit lose become remain seem see hear understand
    believe wait buy try explain decide
    """.split()
)
# Adverbs that may sit inside a noun phrase (her very old car): look past them to the next word.
_LOOK_PAST = frozenset(
    """
    very really so quite rather too extremely highly fairly truly deeply much more most less least only just ever
    still even almost nearly always never often also back well first last next recently newly quickly directly
    immediately personally repeatedly clearly completely totally entirely fully
    """.split()
)
_POSSESSIVES = frozenset("my your his her its our their".split())
_TIME_WORDS = frozenset(
    """
    week weekend night year month time summer winter spring fall autumn morning evening afternoon
    monday tuesday wednesday thursday friday saturday sunday
    """.split()
)
_NEXT_WORD = re.compile(r"\s*(\w[\w'’\-]*)")


def _following_words(text: str, pos: int, *, limit: int = 6) -> list[str]:
    """Up to ``limit`` words right after ``pos``, stopping at the first punctuation mark."""
    words: list[str] = []
    while len(words) < limit:
        match = _NEXT_WORD.match(text, pos)
        if match is None:
            break
        words.append(match.group(1).replace("’", "'").lower())
        pos = match.end()
    return words


def _reads_as_determiner(text: str, end: int, *, form: str) -> bool:
    """Whether ``form`` ("her", "his"), ending at ``end``, starts a noun phrase (the module docstring has the rules)."""
    words = _following_words(text, end)
    i = 0
    while i < len(words):
        if words[i] in _LOOK_PAST:
            if words[i] in ("last", "next") and i + 1 < len(words) and words[i + 1] in _TIME_WORDS:
                return False  # saw her last week
            i += 1
        elif words[i] == "or" and i + 1 < len(words) and words[i + 1] in _POSSESSIVES - {form}:
            i += 2  # his or her application: the noun phrase comes after the second determiner
        else:
            break
    if i == len(words):
        return False  # nothing (after the adverbs) but punctuation or the end
    word = words[i]
    if word == "own":
        return True
    stem = word.split("'")[0]
    if word.endswith("n't") or stem in _FUNCTION_WORDS or word in _FUNCTION_WORDS or word in _BARE_VERBS:
        return False
    return True
