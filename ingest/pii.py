"""Personal data in text: find it, then flag or redact it.

Candidates come from patterns; each is kept only when the number's own check holds, so an order
number that merely looks like a card is not a card:

- e-mail addresses: a conservative address pattern;
- phone numbers: Google's libphonenumber rules (``phonenumbers``), international numbers and
  national numbers of ``regions``;
- payment cards: 13 to 19 digits in groups, a known issuer prefix and the Luhn check;
- IBANs: country code, check digits and the mod-97 check (``python-stdnum``);
- national identifiers: US SSN, UK National Insurance and NHS numbers, Canadian SIN, Dutch BSN,
  Spanish DNI/NIE, French NIR, Italian codice fiscale, German tax id, each with its check digits
  where the scheme has them (``python-stdnum``);
- custom patterns per collection: a label and a regular expression.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import phonenumbers
from stdnum import iban, luhn
from stdnum.ca import sin
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.us import ssn

from core.domain import Chunk


class PiiKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    IBAN = "iban"
    NATIONAL_ID = "national_id"
    CUSTOM = "custom"


class PiiPolicy(StrEnum):
    """What ingestion does with personal data in a collection's documents."""

    ALLOW = "allow"  # index as is
    FLAG = "flag"  # index as is, record what was found
    REDACT = "redact"  # index the redacted text; the original stays with knowledge managers


@dataclass(frozen=True)
class PiiMatch:
    kind: PiiKind
    label: str  # "email", "us_ssn", or a custom pattern's name
    start: int
    end: int


_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|22)|35|62)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_DIGITS = re.compile(r"\D")


def _digits(text: str) -> str:
    return _DIGITS.sub("", text)


@dataclass(frozen=True)
class _IdScheme:
    label: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]


_NATIONAL_IDS = (
    _IdScheme("us_ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), ssn.is_valid),
    _IdScheme(
        "gb_nino",
        re.compile(
            r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
        ),
        lambda _: True,  # the letters exclude what is not issued; there is no check digit
    ),
    _IdScheme("gb_nhs", re.compile(r"\b\d{3} ?\d{3} ?\d{4}\b"), nhs.is_valid),
    _IdScheme("ca_sin", re.compile(r"\b\d{3}[ -]\d{3}[ -]\d{3}\b"), sin.is_valid),
    _IdScheme("nl_bsn", re.compile(r"\b\d{4}\.?\d{2}\.?\d{3}\b"), bsn.is_valid),
    _IdScheme("es_dni", re.compile(r"\b\d{8}-?[A-Z]\b"), dni.is_valid),
    _IdScheme("es_nie", re.compile(r"\b[XYZ]-?\d{7}-?[A-Z]\b"), nie.is_valid),
    _IdScheme(
        "fr_nir", re.compile(r"\b[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b"), nir.is_valid
    ),
    _IdScheme(
        "it_codice_fiscale", re.compile(r"\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b"), codicefiscale.is_valid
    ),
    _IdScheme("de_idnr", re.compile(r"\b\d{2} ?\d{3} ?\d{3} ?\d{3}\b"), idnr.is_valid),
)


class PiiDetector:
    """Finds personal data in text; ``custom`` maps a label to a regular expression."""

    def __init__(
        self, custom: Mapping[str, str] | None = None, *, regions: Iterable[str] = ("US", "GB", "DE", "FR")
    ) -> None:
        self.regions = tuple(regions)
        self.custom = {label: re.compile(pattern) for label, pattern in (custom or {}).items()}

    def find(self, text: str) -> list[PiiMatch]:
        """Every match, earliest first; where two overlap the longer one wins."""
        found = [
            *self._emails(text),
            *self._cards(text),
            *self._ibans(text),
            *self._national_ids(text),
            *self._phones(text),
            *self._customs(text),
        ]
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        kept: list[PiiMatch] = []
        for match in found:
            if kept and match.start < kept[-1].end:
                continue
            kept.append(match)
        return kept

    def redact(self, text: str) -> tuple[str, list[PiiMatch]]:
        """The text with every match replaced by its kind in brackets, e.g. ``[EMAIL]``."""
        matches = self.find(text)
        parts, cursor = [], 0
        for match in matches:
            parts += [text[cursor : match.start], f"[{match.label.upper()}]"]
            cursor = match.end
        parts.append(text[cursor:])
        return "".join(parts), matches

    def _emails(self, text: str) -> Iterable[PiiMatch]:
        for m in _EMAIL.finditer(text):
            yield PiiMatch(PiiKind.EMAIL, "email", m.start(), m.end())

    def _cards(self, text: str) -> Iterable[PiiMatch]:
        for m in _CARD.finditer(text):
            number = _digits(m.group())
            if 13 <= len(number) <= 19 and _CARD_PREFIX.match(number) and luhn.is_valid(number):
                yield PiiMatch(PiiKind.CARD, "card", m.start(), m.end())

    def _ibans(self, text: str) -> Iterable[PiiMatch]:
        for m in _IBAN.finditer(text):
            if iban.is_valid(m.group()):
                yield PiiMatch(PiiKind.IBAN, "iban", m.start(), m.end())

    def _national_ids(self, text: str) -> Iterable[PiiMatch]:
        for scheme in _NATIONAL_IDS:
            for m in scheme.pattern.finditer(text):
                if scheme.valid(m.group()):
                    yield PiiMatch(PiiKind.NATIONAL_ID, scheme.label, m.start(), m.end())

    def _phones(self, text: str) -> Iterable[PiiMatch]:
        seen: set[tuple[int, int]] = set()
        for region in self.regions:
            for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
                if (m.start, m.end) not in seen:
                    seen.add((m.start, m.end))
                    yield PiiMatch(PiiKind.PHONE, "phone", m.start, m.end)

    def _customs(self, text: str) -> Iterable[PiiMatch]:
        for label, pattern in self.custom.items():
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    yield PiiMatch(PiiKind.CUSTOM, label, m.start(), m.end())


def screen_chunks(
    chunks: Sequence[Chunk], policy: PiiPolicy, custom: Mapping[str, str] | None = None
) -> tuple[list[Chunk], dict[str, int]]:
    """Apply a collection's policy to a document's chunks: the chunks to index and what was found."""
    if policy is PiiPolicy.ALLOW:
        return list(chunks), {}
    detector = PiiDetector(custom)
    found: Counter[str] = Counter()
    screened = []
    for chunk in chunks:
        text, matches = detector.redact(chunk.text)
        found.update(m.label for m in matches)
        if policy is PiiPolicy.REDACT:
            path = tuple(detector.redact(heading)[0] for heading in chunk.section_path)
            chunk = replace(chunk, text=text, section_path=path)
        screened.append(chunk)
    return screened, dict(sorted(found.items()))
