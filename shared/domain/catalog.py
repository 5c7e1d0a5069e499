"""The matter catalog (事项清单): matter types by code, and keyword classification of Chinese text.

Pure (no I/O). Public API (stable; routing depends on it):

* ``MatterCatalog(entries, escalation=DEFAULT_ESCALATION)``: `escalation` is the district default policy on a
  missed deadline (a matter type's own ``escalation`` overrides it: ``escalation_of(code)``); raises
  ``CatalogError`` (a ``shared.errors.InvalidInput``, also a
  ``ValueError``) on a duplicate code or an entry without keywords. Iteration and ``len`` follow the
  order given (the file's order).
* ``version: str``: a content hash (16 hex digits), equal for equal content in the same order.
* ``get(code) -> MatterType``: raises ``UnknownMatterError`` (a ``shared.errors.NotFound``, also a
  ``KeyError``) for an unknown code; ``code in catalog`` tests first. ``codes`` is the tuple of codes.
* ``classify(text, limit=None, min_score=0.0) -> list[Classification]``: every matter type with at
  least one keyword in the text and a score of at least ``min_score``, best first. A
  ``Classification`` is a named tuple ``(matter, score, keywords)`` and unpacks as such.

Scoring: a keyword matches when it occurs as a substring of the text (both NFKC-normalised, case-folded,
whitespace removed, traditional characters converted to simplified with OpenCC's `t2s`); all keywords are
found in one pass over the text by an Aho-Corasick automaton (pyahocorasick) built with the catalog. A matched keyword
that lies inside another matched keyword of the same matter type is not counted again ("燃气" inside
"燃气泄漏"). The score is the total length, in characters, of the counted keywords, so more hits and longer
(more specific) hits both rank higher. Ties go to more counted keywords, then to the smaller code, so the
order is fully deterministic.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import NamedTuple

import ahocorasick

from shared.domain.chinese import to_simplified
from shared.domain.model import DEFAULT_ESCALATION, DEFAULT_EXTENSION, EscalationRule, ExtensionRule, MatterType
from shared.errors import InvalidInput, NotFound


class CatalogError(InvalidInput, ValueError):
    """The catalog content is inconsistent."""

    code = "catalog_inconsistent"


class UnknownMatterError(NotFound, KeyError):
    """No matter type has this code."""

    code = "unknown_matter_type"


class Classification(NamedTuple):
    matter: MatterType
    score: float
    keywords: tuple[str, ...]  # the counted keywords, as written in the catalog, in catalog order


@lru_cache(maxsize=1024)
def normalise_text(text: str) -> str:
    """Canonical form for keyword matching: NFKC, case-folded, no whitespace, traditional → simplified.

    Cached: routing normalises a report's text for the catalog and again for the safety words, and the
    safety words themselves on every call; each is converted once.
    """
    return to_simplified("".join(unicodedata.normalize("NFKC", text).casefold().split()))


class MatterCatalog:
    """Matter types by code, in catalog order."""

    __slots__ = ("_automaton", "_by_code", "_escalation", "_extension", "_keywords", "_version")

    def __init__(
        self,
        entries: Iterable[MatterType],
        escalation: EscalationRule = DEFAULT_ESCALATION,
        extension: ExtensionRule = DEFAULT_EXTENSION,
    ) -> None:
        by_code: dict[str, MatterType] = {}
        keywords: list[tuple[MatterType, tuple[tuple[str, str], ...]]] = []
        for m in entries:
            if m.code in by_code:
                raise CatalogError(f"duplicate matter type code {m.code!r}")
            pairs = tuple((k, normalise_text(k)) for k in m.keywords if normalise_text(k))
            if not pairs:
                raise CatalogError(f"matter type {m.code!r} has no keywords")
            by_code[m.code] = m
            keywords.append((m, pairs))
        self._by_code = by_code
        self._keywords = tuple(keywords)
        self._automaton = _automaton(self._keywords)
        self._escalation = escalation
        self._extension = extension
        self._version = _content_hash(by_code.values(), escalation, extension)

    def __repr__(self) -> str:
        return f"MatterCatalog(version={self._version!r}, matter_types={len(self._by_code)})"

    @property
    def version(self) -> str:
        return self._version

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._by_code)

    def __iter__(self) -> Iterator[MatterType]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    @property
    def escalation(self) -> EscalationRule:
        """The district default escalation policy."""
        return self._escalation

    def escalation_of(self, code: str | None) -> EscalationRule:
        """The policy for a missed deadline on a case of this matter type (unknown or none: the default)."""
        matter = self._by_code.get(code) if code is not None else None
        return matter.escalation if matter is not None and matter.escalation is not None else self._escalation

    @property
    def extension(self) -> ExtensionRule:
        """The district default limits of an extension (延期)."""
        return self._extension

    def extension_of(self, code: str | None) -> ExtensionRule:
        """The extension limits on a case of this matter type (unknown or none: the district default)."""
        matter = self._by_code.get(code) if code is not None else None
        return matter.extension if matter is not None and matter.extension is not None else self._extension

    def get(self, code: str) -> MatterType:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownMatterError(f"unknown matter type {code!r}") from None

    def classify(self, text: str, limit: int | None = None, min_score: float = 0.0) -> list[Classification]:
        """Matter types whose keywords occur in the text, best first (see the module docstring)."""
        haystack = normalise_text(text)
        if not haystack:
            return []
        found: list[Classification] = []
        for index in self._matched(haystack):
            matter, pairs = self._keywords[index]
            hits = [(raw, norm) for raw, norm in pairs if norm in haystack]
            counted = _drop_nested(hits)
            score = float(sum(len(norm) for _, norm in counted))
            if score >= min_score:
                found.append(Classification(matter, score, tuple(raw for raw, _ in counted)))
        found.sort(key=lambda c: (-c.score, -len(c.keywords), c.matter.code))
        return found if limit is None else found[:limit]

    def _matched(self, haystack: str) -> list[int]:
        """Indices (catalog order) of the matter types with at least one keyword in the normalised text, found
        in one pass of the automaton; each matter's own hits are then taken in its keyword order as before."""
        matched: set[int] = set()
        if not self._keywords:
            return []
        for _end, indices in self._automaton.iter(haystack):
            matched.update(indices)
        return sorted(matched)


def _automaton(keywords: tuple[tuple[MatterType, tuple[tuple[str, str], ...]], ...]) -> ahocorasick.Automaton:
    """An Aho-Corasick automaton over every normalised keyword, each giving the matter types that list it."""
    owners: defaultdict[str, set[int]] = defaultdict(set)
    for index, (_, pairs) in enumerate(keywords):
        for _, norm in pairs:
            owners[norm].add(index)
    automaton = ahocorasick.Automaton()
    for norm, indices in owners.items():
        automaton.add_word(norm, tuple(sorted(indices)))
    automaton.make_automaton()
    return automaton


def _drop_nested(hits: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Keep each distinct hit once, dropping hits that lie inside a longer hit."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw, norm in hits:
        if norm in seen:
            continue
        if any(norm != other and norm in other for _, other in hits):
            continue
        seen.add(norm)
        out.append((raw, norm))
    return out


def _rule(rule: EscalationRule | None) -> list[object] | None:
    return None if rule is None else [rule.policy.value, rule.take_over_after, rule.reply_within_hours]


def _limits(rule: ExtensionRule) -> list[object]:
    return ["extension", rule.max_count, rule.max_working_days]


def _content_hash(entries: Iterable[MatterType], escalation: EscalationRule, extension: ExtensionRule) -> str:
    h = hashlib.sha256()
    if escalation != DEFAULT_ESCALATION:  # a catalog without escalation fields keeps its version
        h.update(json.dumps(_rule(escalation)).encode())
    if extension != DEFAULT_EXTENSION:  # nor one without extension limits
        h.update(json.dumps(_limits(extension)).encode())
    for m in entries:
        row: list[object] = [
            m.code,
            m.name,
            m.name_en,
            list(m.keywords),
            m.level.value,
            m.lead_department,
            list(m.assisting_departments),
            m.accept_within_hours,
            m.resolve_within,
            m.clock.value,
            [lv.value for lv in m.returnable_by],
            m.safety,
            list(m.warn_at),
        ]
        if m.escalation is not None:
            row.append(_rule(m.escalation))
        if m.extension is not None:
            row.append(_limits(m.extension))
        h.update(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode())
    return h.hexdigest()[:16]
