"""The numbers a simulated day is shaped by, and where each comes from.

Taken from the source documents (`seeds/`, cited by their first words) where they give a figure, and marked
*assumed* where they do not; every one is a field of `DayShape`, so a district with better numbers passes them.

* Hotline volume. Zhongshan district (Dalian) received 63,000 citizen requests through 8890 and its other
  channels in 2020 ("2020年全年共受理涉民涉企诉求6.3万件"), about 173 a day. Lianhu district (Xi'an), a central
  district of the same kind, has 131 communities ("在全区131个社区"). 173 / 131 = 1.32 hotline reports per
  community per day.
* Grid workers' apps. The seeds describe grid workers who walk their grid daily and report "一事一报"
  (Baitao, "网格员日常走访...做到一事一报") but give no count: *assumed* 3 reports per grid per day.
* Cameras. One town shares 1,150 cameras over 172 micro-grids, whose smart analysis recognises illegal
  parking of non-motor vehicles and business spilling out of shop doors and dispatches straight to the
  micro-grid worker's phone ("通过共建共享1150个监控探头...自动识别、分析，并派单到所属微网格员手机上"): about
  6.7 cameras per micro-grid. Alerts per camera are not given: *assumed* 0.25 alerts per micro-grid per day.
* Department systems. Department staff are embedded in grids (the same town: 71 staff, "帮助基层村居解决各类
  问题50余起") and pass on what they find: *assumed* 0.5 reports per community per day.
* What is reported. Zhongshan's high-frequency complaints are property management, administrative
  enforcement, education and training, and the environment ("物业管理、行政执法、教育培训、生态环保等群众投诉
  高频问题"): hotline weights favour them. Grid workers report the neighbourhood matters the seeds list
  (sanitation, corridor clutter, fire safety, disputes, elderly living alone: "环境卫生、消防安全、矛盾纠纷、社会
  保障"; "清理楼道堆物、整治非机动车乱停放、清除毁绿种菜"). Cameras see what the town's cameras recognise.
* Small matters in the grid. "小事不出格、大事不出社区、难事不出街道" (Lianhu): matters handled at micro-grid and
  grid level outweigh the rest; weights fall by level (`level_weight`).
* When. *Assumed* diurnal curves: calls and camera alerts through the day with a morning and an afternoon
  peak and few at night; grid workers' and departments' reports in working hours.
* What happens next (the day actor). *Assumed*: most cases are accepted within minutes to an hour and
  resolved within hours; 5 % are returned once as not the assignee's, 3 % are left unaccepted (so deadlines
  warn and escalate), 3 % fail verification, and 10 % of hotline residents are unsatisfied at first
  (the town seed: "须邀请村居民进行满意度评价打分"). 6 % of reports are a second report of the same problem
  from another source within 100 m (so merging is exercised).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from shared.domain.model import Level

SOURCES: Final = ("hotline", "grid_app", "camera", "department")

# Reports per unit per day, by source, and the unit level they scale with.
HOTLINE_PER_COMMUNITY: Final = 63_000 / 365 / 131  # 1.32: Zhongshan's volume over Lianhu's communities

# Relative volume by local hour 0..23 (assumed shapes; see the module docstring).
DIURNAL: Final[Mapping[str, tuple[float, ...]]] = MappingProxyType(
    {
        "hotline": (1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3, 5.5, 7, 7, 6, 4, 4.5, 6, 6.5, 6, 5, 4, 3.5, 3, 2.5, 2, 1.5),
        "grid_app": (0, 0, 0, 0, 0, 0, 0.2, 1, 6, 8, 8, 6, 2, 2, 7, 8, 7, 4, 1, 0.5, 0.2, 0, 0, 0),
        "camera": (1, 0.6, 0.4, 0.3, 0.3, 0.6, 1.5, 3, 4, 4, 4, 4.5, 5, 4.5, 4, 4, 4.5, 5.5, 6, 6, 5, 3.5, 2, 1.5),
        "department": (0, 0, 0, 0, 0, 0, 0, 0.5, 3, 5, 5, 3, 0.5, 1, 4, 5, 4, 2, 0.3, 0, 0, 0, 0, 0),
    }
)

# Matter types each source reports most (by code; codes the catalog lacks are ignored) and how much more.
FAVOURITES: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        "hotline": {
            "property_management": 8,
            "residential_noise": 5,
            "construction_noise": 4,
            "cooking_fumes": 4,
            "off_campus_tutoring": 3,
            "heating": 4,
            "water_outage": 3,
            "street_vending": 3,
            "consumer_dispute": 3,
            "house_repair": 3,
            "sewer_blockage": 3,
            "neighbour_dispute": 2,
            "wage_arrears": 2,
            "motor_parking": 2,
            "gas_leak": 0.5,
        },
        "grid_app": {
            "sanitation": 10,
            "corridor_clutter": 8,
            "non_motor_parking": 6,
            "flyposting": 6,
            "waste_sorting": 5,
            "vegetable_plots": 3,
            "elderly_alone": 3,
            "resident_changes": 4,
            "fire_lane_blocked": 3,
            "ebike_charging": 3,
            "stairwell_lighting": 3,
            "neighbour_dispute": 2,
        },
        "camera": {
            "non_motor_parking": 10,
            "cross_door_business": 8,
            "street_vending": 6,
            "motor_parking": 5,
            "muck_trucks": 3,
            "sanitation": 3,
            "fire_lane_blocked": 2,
            "waterlogging": 1,
        },
        "department": {
            "unlicensed_business": 4,
            "food_safety": 4,
            "illegal_construction": 4,
            "signboards": 3,
            "dust_pollution": 3,
            "public_order": 3,
            "fire_hazards": 2,
            "road_damage": 3,
            "street_lights": 3,
        },
    }
)
# Cameras recognise only what they are trained on: no background weight for other matter types.
FAVOURITES_ONLY: Final = frozenset({"camera"})

LEVEL_WEIGHT: Final[Mapping[Level, float]] = MappingProxyType(
    {Level.MICRO_GRID: 1.0, Level.GRID: 0.8, Level.COMMUNITY: 0.5, Level.STREET: 0.3, Level.DISTRICT: 0.1}
)


@dataclass(frozen=True, slots=True)
class Fates:
    """Shares of what the day actor does with a case (the rest is handled, verified and rated normally)."""

    returned: float = 0.05
    neglected: float = 0.03
    verify_failed: float = 0.03
    unsatisfied: float = 0.10  # of rated cases


@dataclass(frozen=True, slots=True)
class DayShape:
    """How many reports a day brings and what they look like. Defaults: see the module docstring."""

    per_unit: MappingProxyType[str, tuple[Level, float]] = field(
        default_factory=lambda: MappingProxyType(
            {
                "hotline": (Level.COMMUNITY, HOTLINE_PER_COMMUNITY),
                "grid_app": (Level.GRID, 3.0),
                "camera": (Level.MICRO_GRID, 0.25),
                "department": (Level.COMMUNITY, 0.5),
            }
        )
    )
    scale: float = 1.0  # multiply every volume (a bigger demo, a quieter one)
    duplicate_share: float = 0.06
    duplicate_radius_m: float = 60.0  # dispatch links duplicates within 100 m; stay well inside
    text_only_hotline_share: float = 0.3  # hotline reports without a matter code: classified from the text
    high_urgency_share: float = 0.08
    emergency_share: float = 0.01
    fates: Fates = field(default_factory=Fates)
    rated_sources: frozenset[str] = frozenset({"hotline"})  # a resident stands behind these and rates
