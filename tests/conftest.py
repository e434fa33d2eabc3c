"""Shared fixtures: one small simulated catalog per test session (all three sensors)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fusion.simulate import SimulationConfig, SimulationResult, simulate

SMALL = SimulationConfig(
    seed=7,
    size_m=7680.0,
    margin_m=960.0,
    start=dt.date(2023, 6, 25),
    end=dt.date(2023, 7, 31),
    sensors=("landsat", "modis", "sentinel-2"),
    landsat_first=dt.date(2023, 6, 27),
    sentinel2_first=dt.date(2023, 6, 26),
)


@pytest.fixture(scope="session")
def small_config() -> SimulationConfig:
    return SMALL


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return simulate(SMALL, tmp_path_factory.mktemp("sim") / "scenes")


@pytest.fixture(scope="session")
def small_catalog(small_sim: SimulationResult) -> Path:
    return small_sim.catalog_path


@pytest.fixture(scope="session")
def pipe_scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Landsat + MODIS, June-July 2023, one 256 px tile (read-only: copy before corrupting)."""
    from tests.pipeline_fixtures import PIPE_SIM

    out = tmp_path_factory.mktemp("pipe") / "scenes"
    simulate(PIPE_SIM, out)
    return out


@pytest.fixture(scope="session")
def gcs() -> Iterator[Any]:
    """A running GCS emulator (STORAGE_EMULATOR_HOST is set while it runs)."""
    from tests.servers.gcs import gcs_emulator

    with gcs_emulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def stac_api() -> Iterator[Any]:
    """stac-fastapi-pgstac on a throwaway PostgreSQL + PostGIS cluster (transactions enabled)."""
    from tests.servers.pgstac import pgstac_api

    with pgstac_api() as api:
        yield api
