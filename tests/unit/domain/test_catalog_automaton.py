"""The catalog's one-pass keyword matching (an Aho-Corasick automaton) against the substring scan it replaced.

The reference below is the scan `MatterCatalog.classify` did before (each matter type's keywords tested with
`in` against the normalised text), kept verbatim: both must give the same matter types, scores, counted
keywords and order on random texts, on texts built from the real catalog's keywords, and on random catalogs.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.catalog import Classification, MatterCatalog, _drop_nested, normalise_text
from shared.domain.model import Level, MatterType
from shared.registry_files import load_directory

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample-district"
CATALOG = load_directory(SAMPLE).catalog
KEYWORDS = sorted({k for m in CATALOG for k in m.keywords})


def reference(catalog: MatterCatalog, text: str, limit: int | None = None, min_score: float = 0.0) -> list:
    """The substring scan of the catalog before the automaton (catalog.py at a3c9893)."""
    haystack = normalise_text(text)
    if not haystack:
        return []
    found: list[Classification] = []
    for matter in catalog:
        pairs = tuple((k, normalise_text(k)) for k in matter.keywords if normalise_text(k))
        hits = [(raw, norm) for raw, norm in pairs if norm in haystack]
        if not hits:
            continue
        counted = _drop_nested(hits)
        score = float(sum(len(norm) for _, norm in counted))
        if score >= min_score:
            found.append(Classification(matter, score, tuple(raw for raw, _ in counted)))
    found.sort(key=lambda c: (-c.score, -len(c.keywords), c.matter.code))
    return found if limit is None else found[:limit]


FILLER = st.text(alphabet=st.sampled_from("的了在有人楼道小区门口 ，。ABC燃气水电车"), max_size=6)
CATALOG_TEXT = st.lists(st.one_of(st.sampled_from(KEYWORDS), FILLER), max_size=8).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(CATALOG_TEXT, st.text(max_size=40)), limit=st.sampled_from([None, 1, 2]))
def test_the_real_catalog_matches_as_the_scan_did(text: str, limit: int | None) -> None:
    assert CATALOG.classify(text, limit=limit) == reference(CATALOG, text, limit=limit)


def test_every_keyword_of_the_real_catalog_alone_and_in_traditional_or_full_width() -> None:
    for k in KEYWORDS:
        for text in (k, f"楼下{k}了", k.upper(), f"有{k}{k}"):
            assert CATALOG.classify(text) == reference(CATALOG, text)
    assert CATALOG.classify("燃氣洩漏，ＡＢＣ") == reference(CATALOG, "燃氣洩漏，ＡＢＣ")


ALPHABET = "ab甲乙"
WORD = st.text(alphabet=ALPHABET, min_size=1, max_size=4)


@st.composite
def catalogs(draw: st.DrawFn) -> MatterCatalog:
    n = draw(st.integers(min_value=0, max_value=6))
    entries = [
        MatterType(f"m{i}", f"m{i}", f"m{i}", tuple(draw(st.lists(WORD, min_size=1, max_size=4))), Level.GRID, None)
        for i in range(n)
    ]
    return MatterCatalog(entries)


@settings(max_examples=400, deadline=None)
@given(catalog=catalogs(), text=st.text(alphabet=ALPHABET + " c", max_size=16), min_score=st.sampled_from([0, 2]))
def test_random_catalogs_with_shared_and_nested_keywords_match_as_the_scan_did(
    catalog: MatterCatalog, text: str, min_score: float
) -> None:
    assert catalog.classify(text, min_score=min_score) == reference(catalog, text, min_score=min_score)
