"""Pairing: choose reference pairs for every coarse observation of a grid tile (DESIGN.md §3).

A *reference pair* is a clear-enough fine observation and a coarse observation of the same day
(± ``match_tolerance_days``; a composite coarse product matches every day of its period). A
*target* is a clear-enough coarse observation with no clear fine observation of its own. For
each target the nearest pair before and the nearest pair after, each within ``max_gap_days``,
are chosen (or just the nearest one when ``max_pairs`` is 1). Every coarse observation that is
not fused gets a :class:`Skip` with a reason a person can act on; where the scenes cover too
little of the tile to ever be clear enough (an :class:`Observation`'s ``coverage``, e.g. a small
area on large tiles), the reason says so with the figures and the fix instead of blaming clouds.

Pure functions on small records: the spatiotemporal task (:mod:`fusion.tasks.spatiotemporal`)
plans its jobs with :func:`pair_tile`, on the observations the pipeline's ``PlanJobs`` groups
per tile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fusion.catalog import Scene
from fusion.errors import ConfigError

#: The longest gap between a target and its references a request may ask for (ten years).
MAX_GAP_DAYS = 3653


@dataclass(frozen=True)
class PairingConfig:
    max_gap_days: int = 64  #: most days between a target and its reference pair
    #: most days between the fine and the coarse scene of one reference pair
    match_tolerance_days: int = 1
    #: least clear fraction of the tile for a coarse target to be fused
    min_target_clear: float = 0.5
    #: least clear fraction of the tile for the fine and the coarse scene of a reference pair
    min_reference_clear: float = 0.5
    #: reference pairs per target: 1 (the nearest) or 2 (the nearest before and after)
    max_pairs: int = 2

    def __post_init__(self) -> None:
        for name in ("max_gap_days", "match_tolerance_days", "max_pairs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} {value!r} must be a whole number, e.g. {name}: 2")
        for name in ("min_target_clear", "min_reference_clear"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} {value!r} must be a fraction in [0, 1], e.g. {name}: 0.5")
        if not 1 <= self.max_gap_days <= MAX_GAP_DAYS:
            raise ConfigError(
                f"max_gap_days must be between 1 and {MAX_GAP_DAYS} (ten years), got {self.max_gap_days}"
            )
        if not 0 <= self.match_tolerance_days <= 366:
            raise ConfigError(f"match_tolerance_days must be 0..366, got {self.match_tolerance_days}")
        for name in ("min_target_clear", "min_reference_clear"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be a fraction in [0, 1], got {value}")
        if self.max_pairs not in (1, 2):
            raise ConfigError(f"max_pairs must be 1 or 2, got {self.max_pairs}")


@dataclass(frozen=True)
class Observation:
    """A scene as seen on one tile: its role and the clear fraction of the tile it covers."""

    scene: Scene
    role: str  #: "fine" | "coarse"
    tile_id: str
    clear_fraction: float
    #: share of the tile inside the scene's footprint (at most the clear fraction it can reach)
    coverage: float = 1.0
    tile_size: int | None = None  #: the tile's size in pixels, for messages

    @property
    def date(self) -> dt.date:
        return self.scene.datetime.date()

    @property
    def period(self) -> tuple[dt.date, dt.date]:
        return self.scene.start_datetime.date(), self.scene.end_datetime.date()


@dataclass(frozen=True)
class ReferencePair:
    fine: Observation
    coarse: Observation

    @property
    def date(self) -> dt.date:
        return self.fine.date


@dataclass(frozen=True)
class FusionJob:
    """Fuse ``target`` (coarse) on ``tile_id`` with ``pairs`` (nearest first)."""

    tile_id: str
    target: Observation
    pairs: tuple[ReferencePair, ...]

    @property
    def date(self) -> dt.date:
        return self.target.date

    @property
    def input_scenes(self) -> tuple[Scene, ...]:
        out = [self.target.scene]
        for p in self.pairs:
            out += [p.fine.scene, p.coarse.scene]
        return tuple(out)


@dataclass(frozen=True)
class Skip:
    """A coarse observation that is not fused, and why."""

    tile_id: str
    date: dt.date
    scene_id: str
    reason: str
    asset: str | None = None


def _matches(fine: Observation, coarse: Observation, tolerance: int) -> bool:
    """Same day within ``tolerance`` for a daily coarse product; within the period for a
    composite (its period already is the tolerance - widening it would match a fine date to
    two consecutive composites)."""
    start, end = coarse.period
    slack = dt.timedelta(days=tolerance if start == end else 0)
    return start - slack <= fine.date <= end + slack


def _match_distance(fine: Observation, coarse: Observation) -> int:
    start, end = coarse.period
    return 0 if start <= fine.date <= end else min(abs((fine.date - start).days), abs((fine.date - end).days))


def reference_pairs(observations: Iterable[Observation], config: PairingConfig) -> list[ReferencePair]:
    """Clear fine observations with their best-matching clear coarse observation, by date."""
    obs = list(observations)
    coarse = [o for o in obs if o.role == "coarse" and o.clear_fraction >= config.min_reference_clear]
    pairs = []
    for fine in sorted((o for o in obs if o.role == "fine"), key=lambda o: (o.date, o.scene.id)):
        if fine.clear_fraction < config.min_reference_clear:
            continue
        matching = [c for c in coarse if _matches(fine, c, config.match_tolerance_days)]
        if matching:
            best = min(matching, key=lambda c: (_match_distance(fine, c), c.scene.id))
            pairs.append(ReferencePair(fine, best))
    return pairs


def pair_tile(
    observations: Sequence[Observation], config: PairingConfig, period: tuple[dt.date, dt.date] | None = None
) -> tuple[list[FusionJob], list[Skip]]:
    """Jobs and skips for one tile. ``period`` limits the *target* dates (references may lie
    outside it, up to the maximum gap)."""
    pairs = reference_pairs(observations, config)
    fine_clear = [
        o for o in observations if o.role == "fine" and o.clear_fraction >= config.min_reference_clear
    ]
    jobs: list[FusionJob] = []
    skips: list[Skip] = []
    for target in sorted((o for o in observations if o.role == "coarse"), key=lambda o: (o.date, o.scene.id)):
        if period is not None and not (period[0] <= target.date <= period[1]):
            continue

        def skip(reason: str, target: Observation = target) -> None:
            skips.append(Skip(target.tile_id, target.date, target.scene.id, reason, target.scene.qa_href))

        if target.clear_fraction < config.min_target_clear:
            skip(low_clear_reason(target, config.min_target_clear, "min_target_clear"))
            continue
        own = [f for f in fine_clear if _matches(f, target, config.match_tolerance_days)]
        if own:
            skip(f"fine observation exists: {own[0].scene.id}")
            continue
        chosen, nearest = nearest_references(pairs, target, config.max_gap_days)
        if not chosen:
            if nearest:
                days = min(abs((p.date - target.date).days) for p in nearest)
                skip(f"no reference pair within {config.max_gap_days} days; nearest is {days} days away")
            else:
                skip(no_pairs_reason(observations, config))
            continue
        jobs.append(FusionJob(target.tile_id, target, tuple(chosen[: config.max_pairs])))
    return jobs, skips


def partly_covered(
    what: str, coverage: float, tile_id: str, tile_size: int | None, threshold: float, name: str
) -> str:
    """Why a tile that its scenes (``what``: "the scene covers only", "the fine scenes cover at
    most") cover only partly cannot reach a clear ``threshold`` (the request field ``name``),
    and what to do about it."""
    share = f"{coverage:.0%}" if coverage >= 0.01 or coverage == 0 else f"{max(coverage, 0.001):.1%}"
    amount = f"{what} {share}"
    size = f" (tile size {tile_size} px)" if tile_size else ""
    return (
        f"{amount} of tile {tile_id}{size}, below {name} {threshold:.0%} even without clouds. Use a "
        "smaller --tile-size (the demo uses 512) or an --aoi inside the scenes"
    )


def low_clear_reason(obs: Observation, threshold: float, name: str) -> str:
    """Why an observation whose clear fraction is below ``threshold`` is not used: its scene
    covers too little of the tile, or clouds."""
    if obs.coverage < threshold:
        return "partly covered: " + partly_covered(
            "the scene covers only", obs.coverage, obs.tile_id, obs.tile_size, threshold, name
        )
    return f"too cloudy: clear fraction {obs.clear_fraction:.0%} of the tile is below {threshold:.0%}"


def no_pairs_reason(observations: Sequence[Observation], config: PairingConfig) -> str:
    """Why a tile has no clear reference pair at all: its fine scenes cover too little of it,
    or clouds."""
    fine = [o for o in observations if o.role == "fine"]
    best = max(fine, key=lambda o: o.coverage, default=None)
    if best is not None and best.coverage < config.min_reference_clear:
        return "no reference pair: " + partly_covered(
            "the fine scenes cover at most",
            best.coverage,
            best.tile_id,
            best.tile_size,
            config.min_reference_clear,
            "min_reference_clear",
        )
    return f"no reference pair within {config.max_gap_days} days; there are no clear reference pairs at all"


def nearest_references(
    pairs: Sequence[ReferencePair], target: Observation, max_gap_days: int
) -> tuple[list[ReferencePair], list[ReferencePair]]:
    """``(chosen, nearest)`` for a coarse ``target``: ``nearest`` is the nearest pair on or
    before its date and the nearest after, leaving out pairs of its own coarse scene;
    ``chosen`` those of them within ``max_gap_days``, nearest first."""
    before = [p for p in pairs if p.date <= target.date and p.coarse.scene.id != target.scene.id]
    after = [p for p in pairs if p.date > target.date and p.coarse.scene.id != target.scene.id]
    nearest_before = max(before, key=lambda p: (p.date, p.fine.scene.id), default=None)
    nearest_after = min(after, key=lambda p: (p.date, p.fine.scene.id), default=None)
    nearest = [p for p in (nearest_before, nearest_after) if p is not None]
    gap = dt.timedelta(days=max_gap_days)
    chosen = sorted(
        (p for p in nearest if abs(p.date - target.date) <= gap),
        key=lambda p: (abs((p.date - target.date).days), p.date),
    )
    return chosen, nearest
