"""Where: place a report in the registry (micro-grid by point, else grid code, else address, else an area)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.model import Unit
from shared.domain.registry import Registry
from shared.domain.routing.values import LocateMethod, ReportFacts, RoutingError, Trace


@dataclass(frozen=True, slots=True)
class Placement:
    unit: Unit  # a micro-grid when located by point or address; any unit for a grid code or an area
    method: LocateMethod


def locate(report: ReportFacts, registry: Registry, trace: Trace) -> Placement:
    """The first rule that places the report wins; an unplaceable report lands on the district."""
    point = report.point
    shown = f"({round(point[0], 6)}, {round(point[1], 6)})" if point is not None else ""
    if point is not None:
        hit = registry.locate_point(*point)
        if hit is not None:
            trace.add(
                "locate.point_in_polygon",
                f"point {shown} lies in micro-grid {hit.code} {hit.name}",
                unit=hit.code,
            )
            _compare_grid_code(report, hit, registry, trace)
            return Placement(hit, LocateMethod.POINT)
        trace.add("locate.point_outside", f"point {shown} lies in no micro-grid")
    placed = _by_grid_code(report, registry, trace) or _by_address(report, registry, trace)
    if placed is not None:
        return placed
    if point is not None:
        area = registry.smallest_containing(*point)
        if area is not None:
            trace.add(
                "locate.smallest_containing",
                f"not located to a micro-grid; the smallest area holding the point is "
                f"{area.level.value} {area.code} {area.name}",
                unit=area.code,
            )
            return Placement(area, LocateMethod.CONTAINING_AREA)
    district = district_of(registry)
    trace.add(
        "locate.district_fallback",
        f"no location could be placed; the case goes to district {district.code} {district.name}",
        unit=district.code,
    )
    return Placement(district, LocateMethod.DISTRICT)


def district_of(registry: Registry, code: str | None = None) -> Unit:
    """The district holding `code`, or the registry's district (the first by code if it holds several)."""
    if code is not None:
        return registry.chain(code)[-1]
    if not registry.roots:
        raise RoutingError("the registry has no district")
    return registry.roots[0]


def _by_grid_code(report: ReportFacts, registry: Registry, trace: Trace) -> Placement | None:
    code = report.grid_code
    if not code:
        return None
    if code not in registry.units:
        trace.add("locate.grid_code_unknown", f"the app sent unit code {code!r}, which the registry lacks")
        return None
    unit = registry.unit(code)
    trace.add(
        "locate.grid_code",
        f"the app sent unit code {code} ({unit.level.value} {unit.name})",
        unit=code,
    )
    return Placement(unit, LocateMethod.GRID_CODE)


def _by_address(report: ReportFacts, registry: Registry, trace: Trace) -> Placement | None:
    if not report.address:
        return None
    building = registry.building_by_address(report.address)
    if building is None:
        trace.add("locate.address_unknown", f"address {report.address!r} matches no registry building")
        return None
    trace.add(
        "locate.address",
        f"address {report.address!r} matches building {building.code} ({building.address}) "
        f"in micro-grid {building.micro_grid}",
        unit=building.micro_grid,
        building=building.code,
    )
    return Placement(registry.unit(building.micro_grid), LocateMethod.ADDRESS)


def _compare_grid_code(report: ReportFacts, hit: Unit, registry: Registry, trace: Trace) -> None:
    """The point wins, but a disagreeing app grid code is worth a supervisor's look."""
    code = report.grid_code
    if code and code not in {u.code for u in registry.chain(hit.code)}:
        trace.add(
            "locate.grid_code_disagrees",
            f"the app sent unit code {code!r}, which does not hold micro-grid {hit.code}; the point wins",
            grid_code=code,
        )
