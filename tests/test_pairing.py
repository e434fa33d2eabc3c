"""Pairing: reference pairs, nearest before/after within the gap, and a reason for every skip."""

from __future__ import annotations

import datetime as dt

import pytest

from fusion.catalog import Projection, Scene
from fusion.errors import ConfigError
from fusion.pairing import Observation, PairingConfig, pair_tile

D = dt.date


def _scene(sid: str, day: D, collection: str, period_days: int = 0) -> Scene:
    start = dt.datetime.combine(day, dt.time(0), dt.UTC)
    end = start + dt.timedelta(days=period_days, hours=23, minutes=59) if period_days else start
    return Scene(
        id=sid,
        collection=collection,
        sensor="x",
        datetime=start,
        start_datetime=start,
        end_datetime=end,
        bbox=(0, 0, 1, 1),
        geometry={},
        cloud_cover=None,
        bands={},
        qa_href=f"/qa/{sid}.tif",
        scale_offset={},
        nodata={},
        projection=Projection(32614, None, None, None),
    )


def fine(day: D, clear: float = 1.0) -> Observation:
    return Observation(_scene(f"L{day:%m%d}", day, "landsat-c2-l2"), "fine", "T", clear)


def coarse(day: D, clear: float = 1.0, period_days: int = 0) -> Observation:
    return Observation(_scene(f"M{day:%m%d}", day, "modis", period_days), "coarse", "T", clear)


def test_nearest_pair_before_and_after() -> None:
    obs = [fine(D(2023, 6, 1)), coarse(D(2023, 6, 1)), fine(D(2023, 7, 1)), coarse(D(2023, 7, 1))]
    obs += [fine(D(2023, 5, 1)), coarse(D(2023, 5, 1)), coarse(D(2023, 6, 20))]
    jobs, skips = pair_tile(obs, PairingConfig())
    target = [j for j in jobs if j.date == D(2023, 6, 20)]
    assert len(target) == 1
    assert [p.date for p in target[0].pairs] == [D(2023, 7, 1), D(2023, 6, 1)]  # nearest first
    assert all("fine observation exists" in s.reason for s in skips)
    assert {s.date for s in skips} == {D(2023, 5, 1), D(2023, 6, 1), D(2023, 7, 1)}


def test_one_pair_mode_takes_the_nearest() -> None:
    obs = [
        fine(D(2023, 6, 1)),
        coarse(D(2023, 6, 2)),
        fine(D(2023, 7, 1)),
        coarse(D(2023, 7, 1)),
        coarse(D(2023, 6, 5)),
    ]
    jobs, _ = pair_tile(obs, PairingConfig(max_pairs=1))
    (job,) = [j for j in jobs if j.date == D(2023, 6, 5)]
    assert [p.fine.scene.id for p in job.pairs] == ["L0601"]
    assert job.pairs[0].coarse.scene.id == "M0602"  # within ±1 day


def test_every_unfused_date_has_a_reason() -> None:
    obs = [
        fine(D(2023, 6, 1)),
        coarse(D(2023, 6, 1)),
        coarse(D(2023, 6, 10), clear=0.1),  # too cloudy
        coarse(D(2023, 9, 30)),  # too far from any pair
        fine(D(2023, 6, 20), clear=0.2),  # cloudy fine: not a reference, target still fused
        coarse(D(2023, 6, 20)),
    ]
    jobs, skips = pair_tile(obs, PairingConfig(max_gap_days=30))
    reasons = {s.date: s.reason for s in skips}
    assert "too cloudy" in reasons[D(2023, 6, 10)] and "10%" in reasons[D(2023, 6, 10)]
    assert "no reference pair within 30 days" in reasons[D(2023, 9, 30)]
    assert "121 days away" in reasons[D(2023, 9, 30)]
    assert "fine observation exists" in reasons[D(2023, 6, 1)]
    assert [j.date for j in jobs] == [D(2023, 6, 20)]
    assert len(jobs) + len(skips) == sum(1 for o in obs if o.role == "coarse")


def test_a_partly_covered_tile_says_so_with_figures_and_the_fix() -> None:
    """Scenes that cover only part of the tile can never be clear enough: the reason says how
    much of which tile (of which size) they cover, not "too cloudy" or "no clear pairs"."""
    import dataclasses

    def on_part(obs: Observation, coverage: float) -> Observation:
        return dataclasses.replace(obs, coverage=coverage, tile_size=5120)

    obs = [
        on_part(fine(D(2023, 6, 1), clear=0.08), 0.09),
        on_part(coarse(D(2023, 6, 1)), 0.2),
        on_part(coarse(D(2023, 6, 10), clear=0.15), 0.2),  # below min_target_clear: coverage
        on_part(coarse(D(2023, 6, 20)), 0.2),  # clear enough (a coarse QA read past the scene)
    ]
    jobs, skips = pair_tile(obs, PairingConfig())
    reasons = {s.date: s.reason for s in skips}
    assert not jobs
    assert reasons[D(2023, 6, 20)] == (
        "no reference pair: the fine scenes cover at most 9% of tile T (tile size 5120 px), below "
        "min_reference_clear 50% even without clouds. Use a smaller --tile-size (the demo uses "
        "512) or an --aoi inside the scenes"
    )
    assert reasons[D(2023, 6, 10)].startswith(
        "partly covered: the scene covers only 20% of tile T (tile size 5120 px), below min_target_clear 50%"
    )
    # Fully covered but cloudy: still the cloud reasons.
    jobs, skips = pair_tile([fine(D(2023, 6, 1), 0.1), coarse(D(2023, 6, 10), 0.1)], PairingConfig())
    assert [s.reason.split(":")[0] for s in skips] == ["too cloudy"]
    _, skips = pair_tile([fine(D(2023, 6, 1), 0.1), coarse(D(2023, 6, 10))], PairingConfig())
    assert skips[0].reason.endswith("there are no clear reference pairs at all")


def test_composite_matches_its_period_only() -> None:
    """An 8-day composite pairs with a fine date inside its period; the ±1 day tolerance is for
    daily products and must not make one fine date match two consecutive composites."""
    obs = [
        fine(D(2023, 6, 9)),
        coarse(D(2023, 6, 2), period_days=7),
        coarse(D(2023, 6, 10), period_days=7),
        fine(D(2023, 6, 25)),
        coarse(D(2023, 6, 18), period_days=7),
        coarse(D(2023, 6, 26), period_days=7),
    ]
    jobs, skips = pair_tile(obs, PairingConfig())
    fused = {j.date: j for j in jobs}
    assert set(fused) == {D(2023, 6, 10), D(2023, 6, 26)}
    assert fused[D(2023, 6, 10)].pairs[0].coarse.scene.id == "M0602"
    assert {s.date for s in skips} == {D(2023, 6, 2), D(2023, 6, 18)}


def test_period_limits_targets_not_references() -> None:
    obs = [fine(D(2023, 5, 1)), coarse(D(2023, 5, 1)), coarse(D(2023, 5, 10)), coarse(D(2023, 6, 10))]
    jobs, skips = pair_tile(obs, PairingConfig(), period=(D(2023, 5, 5), D(2023, 5, 31)))
    assert [j.date for j in jobs] == [D(2023, 5, 10)]
    assert skips == []


@pytest.mark.parametrize(
    "kwargs", [{"max_gap_days": 0}, {"max_pairs": 3}, {"min_target_clear": 1.5}, {"match_tolerance_days": -1}]
)
def test_bad_config(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        PairingConfig(**kwargs)  # type: ignore[arg-type]
