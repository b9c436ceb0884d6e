"""What a question asks for: its identifiers, its key terms, and whether it compares entities.

The extractive composer reads evidence with this: an identifier the question names (an error
code "E-101", a model "T300 Pro", a firmware "4.2.1", a part "WB-300R", an amount, a date) must
appear in the evidence, and a sentence about another identifier of the same family (the legacy
"T-50" when the question is about the "T100") is not evidence at all. Key terms are the
question's content words, stemmed, without the words every question of its kind uses ("what
does the policy say about", "what causes it and how do I fix it"), which carry no evidence.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from core.domain import AnswerHints
from retrieval.stopwords import STOP_WORDS

# Words that phrase a question (or a template's pattern) without naming what it is about: they
# never count as evidence. Kept short: a word here is ignored in every question.
BOILERPLATE = frozenset(
    [
        "customer",  # how agents frame a case ("customer has E-102 on a T200"), not its subject
        "customers",
        "client",
        "caller",
        "mean",
        "means",
        "meaning",
        "say",
        "says",
        "said",
        "policy",
        "policies",
        "cause",
        "causes",
        "caused",
        "fix",
        "fixes",
        "fixed",
        "happen",
        "happens",
        "tell",
        "explain",
        "describe",
        "know",
        "need",
        "needs",
        "want",
        "please",
        "way",
        "ways",
        "thing",
        "things",
        "kind",
        "type",
        "differ",
        "differs",
        "difference",
        "differences",
        "compare",
        "compared",
        "comparison",
        "versus",
        "vs",
        "between",
        "both",
    ]
)
COMPARISON_WORDS = frozenset({"differ", "differs", "difference", "differences", "compare", "versus", "vs"})

# An identifier: a token holding a digit (E-101, T100, 4.2.1, WB-300R, 2024-07-22, 45), with a
# model's trailing word kept ("T300 Pro"). Codes (letters and digits) are strict; plain numbers
# are weaker evidence (a sentence may spell them out).
_IDENTIFIER = re.compile(
    r"(?<![\w.])(?:[A-Za-z]+[-/]?)?\d[\w]*(?:[-./]\w+)*(?:\s+(?:Pro|Plus|Max|Mini|Lite|Ultra|XL))?(?![\w])"
)
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_CLITIC = re.compile(r"'(?:s|re|ll|ve|d|m)$")
_LABEL = re.compile(r"\b([A-Za-z]+)\s+(" + _IDENTIFIER.pattern + ")")


def normalize_identifier(text: str) -> str:
    """One spelling for an identifier: "T-50", "t50" and "T 50" are the same model."""
    return re.sub(r"[^a-z0-9.]", "", text.lower()).strip(".")


def identifiers(text: str) -> dict[str, str]:
    """The identifiers in ``text``: normalised key -> the spelling found first."""
    found: dict[str, str] = {}
    for match in _IDENTIFIER.finditer(text):
        spelled = match.group(0).strip()
        found.setdefault(normalize_identifier(spelled), spelled)
    return found


_VERSION = re.compile(r"\d+(?:\.\d+){2,3}")


def is_code(key: str) -> bool:
    """A code, model name (letters and digits) or version (4.2.1), as opposed to a plain number,
    amount or date."""
    letters_then_digits = key[:1].isalpha() and any(c.isdigit() for c in key)  # not "19th", "4k"
    return letters_then_digits or bool(_VERSION.fullmatch(key))


def family(key: str) -> str:
    """What kind of code: its leading letters ("t" for the T100 and the T-50, "e" for E-101), or
    "version" for 4.2.1."""
    if _VERSION.fullmatch(key):
        return "version"
    match = re.match(r"[a-z]*", key)
    return match.group(0) if match else ""


def mentions(evidence: Mapping[str, str], key: str) -> bool:
    """Whether evidence identifiers name ``key`` ("t300" is named by "T300 Pro"; not the reverse)."""
    if key in evidence:
        return True
    return any(k.startswith(key) and k[len(key) :].isalpha() for k in evidence if is_code(key))


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light suffix stemmer (plural, -ing, -ed, -ly): enough to match "causes"/"cause",
    "resetting"/"reset", "returned"/"return" without a language model."""
    w = word.lower()
    if len(w) <= 3 or any(c.isdigit() for c in w):
        return w
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ness", ""), ("ments", ""), ("ment", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)] + replacement
    for suffix in ("ing", "edly", "ed", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # "resetting" -> "resett" -> "reset"
            return w.rstrip("e") if len(w) >= 4 else w
    if (w.endswith("es") and w[-3] in "sxz") or w.endswith(("ches", "shes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    return w.rstrip("e") if len(w) >= 4 else w


def content_stems(text: str, *, drop: Iterable[str] = ()) -> set[str]:
    """The stems of a text's content words: no stop words, no words in ``drop``; an acronym
    ("V&A", "U.S.") is one word, its letters."""
    dropped = frozenset(drop)
    if not dropped:
        return set(_content_stems(text))
    found = {stem(w) for w in _content_words(text) if w not in dropped}
    return found | {k for k in acronyms(text) if k not in dropped}


def _content_words(text: str) -> Iterator[str]:
    """A text's words in lower case, stop words and single letters left out."""
    words = (_CLITIC.sub("", w) for w in _WORD.findall(text.lower()))  # "what's" is "what"
    return (w for w in words if w not in STOP_WORDS and len(w) > 1)


# An acronym: capitals joined by "&" or dots ("V&A", "AT&T", "U.S.") or a word in capitals
# ("NASUWT"), not part of a code ("WB-300R", "RS-1"). Its key is its letters ("va", "att", "us").
_ACRONYM = re.compile(r"(?<![\w&.-])((?:[A-Z]{1,4}[&.])+[A-Z]{1,4}\.?|[A-Z]{2,})(?![\w&-])")
# Words spelled with capitals in a row, the way an acronym is spelled out ("Victoria and Albert
# Museum", "American Telephone & Telegraph", "United States").
_CAPITALISED_RUN = re.compile(r"[A-Z][\w'-]*(?:\s+(?:(?:and|of|for|the|&)\s+)?[A-Z][\w'-]*)+")
_RUN_JOINERS = frozenset({"and", "of", "for", "the", "&"})


def acronyms(text: str) -> dict[str, str]:
    """The acronyms of ``text``: key (its letters, lower case) -> the spelling found first. A text
    written in capitals has none: every word of it would be one."""
    letters = [c for c in text if c.isalpha()]
    if sum(c.isupper() for c in letters) > len(letters) / 2:
        return {}
    found: dict[str, str] = {}
    for match in _ACRONYM.finditer(text):
        spelled = match.group(1)
        found.setdefault("".join(c for c in spelled.lower() if c.isalpha()), spelled)
    return found


def name_forms(text: str) -> set[str]:
    """Every way ``text`` holds a name: its content stems, its acronyms, and the initials of each
    run of capitalised words and of its parts ("Victoria and Albert Museum" holds "va" and "vam"):
    a name asked as "V&A" is held by a passage that spells it out."""
    forms = content_stems(text)
    for run in _CAPITALISED_RUN.finditer(text):
        initials = "".join(w[0].lower() for w in run.group(0).split() if w not in _RUN_JOINERS)
        forms |= {initials[i:j] for i in range(len(initials)) for j in range(i + 2, len(initials) + 1)}
    return forms


def asked_names(text: str, drop: Iterable[str] = ()) -> dict[str, str]:
    """The names a question asks about: key (a stem, or an acronym's letters) -> its spelling.
    A capitalised word counts unless it opens a sentence (every first word is capitalised)."""
    dropped = set(drop)
    found = {stem(m.group(1)): m.group(1) for m in _NAME.finditer(text) if m.group(1).lower() not in dropped}
    # "IT" or "US" in capitals may be the word; "U.S." and "V&A" are names.
    found |= {
        k: v
        for k, v in acronyms(text).items()
        if k not in dropped and (k not in STOP_WORDS or not v.isalpha())
    }
    return found


@functools.lru_cache(maxsize=1 << 14)
def _content_stems(text: str) -> frozenset[str]:
    # Cached: an answer reads each retrieved passage and its sentences several times over, and
    # the same passages come back question after question.
    return frozenset(map(stem, _content_words(text))) | frozenset(acronyms(text))


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    ids: dict[str, str]  # identifiers the evidence must name: key -> spelling
    key_terms: frozenset[str]  # stems of the words that say what is asked
    entities: tuple[str, ...]  # identifier keys compared with each other (two or more), else ()
    shape: str  # "lookup", "steps", "compare" or "" (a plain answer)
    wants_remedy: bool = False  # asks why or what to do: a sentence restating it is no answer
    wants: str = ""  # the kind of value asked for: "money", "duration", "date", "number" or ""
    names: frozenset[str] = frozenset()  # stems of the names it asks about ("Enterprise", "Zigbee")
    compares: bool = False  # "differ", "compare", "vs", or a template that wants a comparison

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(k for k in self.ids if is_code(k))


_STEPS = re.compile(r"^\s*how (do|can|should) (i|we|you|customers?|installers?)\b|\bsteps?\b", re.I)
_REMEDY = re.compile(
    r"^\s*why\b|\bwhat (should|can|do) (i|we|you|customers?) do\b|\bwhat to do\b|"
    r"\bhow (do|can) (i|we|you) (fix|stop|solve|get rid of)\b",
    re.I,
)
_HOW = re.compile(r"\bhow\s+(many|much|long|often|soon|far|big|old|late|early)\b", re.I)
_PATTERN_CODE = re.compile(r"\{[{%].*?[%}]\}", re.S)

# The kind of value a question asks for, and how a sentence states one. A sentence that states no
# value of the kind asked ("How much does the adapter cost?" against a sentence naming the adapter
# and no price) is about the topic, not the answer.
_WANTS = (
    (
        "money",
        re.compile(
            r"\bhow much\b.*\b(cost|costs|pay|paid|charge[sd]?)\b|\b(prices?|pricing|fees?|(hourly|labou?r|daily) rates?)\b|"
            r"\bwhat (does|do|did|will|would) .*\bcost\b",
            re.I,
        ),
    ),
    (
        "duration",
        re.compile(
            r"\bhow long\b(?! ago)|\bhow soon\b|\bhow many (seconds|minutes|hours|days|weeks|months|years)\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"^\s*when\b|\b(what|which) (date|day|year|month)\b|\bdeadline\b|\bwhen (was|were|is|did|does|do|will)\b",
            re.I,
        ),
    ),
    ("number", re.compile(r"\bhow (many|much|big|far|high|heavy|old)\b|\bwhat (percentage|number)\b", re.I)),
)
_NUMBER_WORD = r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|a|an|half an?)"
_DURATION_UNIT = r"(?:business |working |calendar )?(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|decades?|centuries|century)\b"
_STATES = {
    "money": re.compile(
        r"[$£€¥₹]\s?\d|\d\s?(?:usd|gbp|eur|chf|dollars?|pounds?|euros?|cents?|pence|p)\b|\b(?:usd|gbp|eur|chf)\s?\d|"
        r"\bfree\b|\bno (?:charge|cost|fee)\b|\d\s?%",
        re.I,
    ),
    "duration": re.compile(
        rf"\b{_NUMBER_WORD}[\s-]+{_DURATION_UNIT}|\b(?:seconds|minutes|hours|days|weeks|months|years)\b|\b(?:daily|weekly|monthly|yearly|annually|immediately|overnight)\b",
        re.I,
    ),
    "date": re.compile(
        r"\b(?:1\d{3}|20\d{2})s?\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d|\d (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)|"
        r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|yesterday)\b|\b\d{1,2}:\d{2}\b|"
        rf"\b(?:before|after|within|until|by|during|since|when|once|every)\b|\b{_NUMBER_WORD}[\s-]+{_DURATION_UNIT}|\bcentury\b",
        re.I,
    ),
    "number": re.compile(
        r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundreds?|thousands?|millions?|billions?|dozens?|several|single|double|twice|half)\b",
        re.I,
    ),
}
_NAME = re.compile(r"(?<=[a-z0-9,;:]\s)([A-Z][a-z]+(?:[A-Z][a-z]+)*)\b")


_YES_NO = re.compile(
    r"^\s*(can|could|is|are|was|were|does|do|did|will|would|should|shall|may|might|must|has|have|had)\b", re.I
)
_OTHER_WH = re.compile(r"^\s*(who|whom|whose|where|why)\b", re.I)  # a person, a place, a reason
# A price asked in a currency wants that currency: "GBP 39" does not say what it costs in euros.
_CURRENCIES = {
    "eur": re.compile(r"\beuros?\b|\beur\b|€", re.I),
    "usd": re.compile(r"\b(us )?dollars?\b|\busd\b|\$", re.I),
    "gbp": re.compile(r"\bpounds?( sterling)?\b|\bgbp\b|£", re.I),
}


def wanted_value(text: str) -> str:
    """The kind of value a question asks for ("money", "money:eur", "duration", "date",
    "number"), or "": a yes/no question ("Can it be paid monthly?") asks for none."""
    if _YES_NO.match(text) or _OTHER_WH.match(text):
        return ""
    for kind, pattern in _WANTS:
        if pattern.search(text):
            if kind == "money":
                currency = next((c for c, p in _CURRENCIES.items() if p.search(text)), "")
                return f"money:{currency}" if currency else kind
            return kind
    return ""


def states(kind: str, text: str) -> bool:
    """Whether ``text`` states a value of ``kind`` (any text does when no kind is asked)."""
    if not kind:
        return True
    kind, _, currency = kind.partition(":")
    if currency:
        return bool(_CURRENCIES[currency].search(text)) and bool(re.search(r"\d", text))
    return bool(_STATES[kind].search(text))


def _split_context(text: str) -> tuple[str, str]:
    """(the question, the context around it): in "Customer has E-110 on a T200. The app says
    offline. What does it mean?" the sentences that ask nothing say the case, not the answer."""
    sentences = [x for x in re.split(r"(?<=[.?!])\s+(?=[A-Z\"'])", text.strip()) if x.strip()]
    asking = [x for x in sentences if x.strip().endswith("?")]
    if not asking or len(asking) == len(sentences):
        return text, ""
    return " ".join(asking), " ".join(x for x in sentences if x not in asking)


def analyze(text: str, hints: AnswerHints | None = None) -> Question:
    """Identifiers, key terms, compared entities and wanted shape of a question."""
    ids = identifiers(text)
    boilerplate = set(BOILERPLATE)
    if hints is not None:
        for value in hints.values.values():
            for item in value if isinstance(value, list | tuple) else [value]:
                if isinstance(item, str):
                    for key, spelled in identifiers(item).items():
                        ids.setdefault(key, spelled)
        boilerplate |= {w for w in _WORD.findall(_PATTERN_CODE.sub(" ", hints.pattern.lower()))}
    id_words = {w for spelled in ids.values() for w in _WORD.findall(spelled.lower())}
    # The word before an identifier names its kind ("error E-101", "firmware 4.2.1", "part
    # WB-300R"): the identifier says it already, and the evidence need not repeat it.
    id_words |= {
        m.group(1).lower() for m in _LABEL.finditer(text) if is_code(normalize_identifier(m.group(2)))
    }
    # "how many", "how long", "how often" ask for an amount: the word says nothing of the subject.
    id_words |= {m.group(1).lower() for m in _HOW.finditer(text)}
    asking, _context = _split_context(text)
    key_terms = frozenset(content_stems(asking, drop=boilerplate | id_words))
    names = frozenset(asked_names(asking, boilerplate | id_words)) & key_terms
    codes = [k for k in ids if is_code(k)]
    words = set(_WORD.findall(text.lower()))
    shape = hints.shape if hints is not None and hints.shape else ""
    compares = bool(words & COMPARISON_WORDS) or shape == "compare"
    families = [family(k) for k in codes]
    compared = [k for k, f in zip(codes, families, strict=True) if families.count(f) >= 2]
    joined = compares or " and " in text or " or " in text
    entities = tuple(compared) if len(compared) >= 2 and joined else ()
    if not shape:
        shape = "compare" if entities and compares else "steps" if _STEPS.search(text) else ""
    return Question(
        text,
        ids,
        key_terms,
        entities,
        shape,
        bool(_REMEDY.search(text)),
        wanted_value(asking),
        names,
        compares,
    )
