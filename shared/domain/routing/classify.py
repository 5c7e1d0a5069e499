"""What: the matter type, from the given code, else keywords of the text, else none (triage)."""

from __future__ import annotations

from shared.domain.catalog import MatterCatalog
from shared.domain.model import MatterType
from shared.domain.routing.values import Policy, ReportFacts, Trace


def classify(report: ReportFacts, catalog: MatterCatalog, policy: Policy, trace: Trace) -> MatterType | None:
    """The matter type, or None when a person must classify the case."""
    if report.matter:
        if report.matter in catalog:
            matter = catalog.get(report.matter)
            trace.add("classify.given_code", f"matter code {matter.code} given: {matter.name}", matter=matter.code)
            return matter
        trace.add("classify.unknown_code", f"matter code {report.matter!r} is not in the catalog; using the text")
    ranked = catalog.classify(report.text, limit=2) if report.text else []
    if ranked and ranked[0].score >= policy.min_keyword_score:
        best = ranked[0]
        runner = f"; next: {ranked[1].matter.code} ({ranked[1].score:g})" if len(ranked) > 1 else ""
        trace.add(
            "classify.keywords",
            f"text matches {best.matter.code} {best.matter.name} on {', '.join(best.keywords)} "
            f"(score {best.score:g}, minimum {policy.min_keyword_score:g}){runner}",
            matter=best.matter.code,
            keywords=list(best.keywords),
            score=best.score,
        )
        return best.matter
    if ranked:
        trace.add(
            "classify.keywords_below_min",
            f"best keyword match {ranked[0].matter.code} scores {ranked[0].score:g}, "
            f"below the minimum {policy.min_keyword_score:g}",
        )
    trace.add("classify.triage", "no matter type could be given to the case: a person classifies it")
    return None
