"""A small Landsat + MODIS simulation and requests for pipeline tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fusion.request import FusionRequest
from fusion.simulate import SimulationConfig

#: 7.68 km = one 256 px tile (14N-0080-0752) of the 30 m grid; margin 960 m = the STARFM halo.
PIPE_SIM = SimulationConfig(
    seed=7,
    size_m=7680.0,
    margin_m=960.0,
    start=dt.date(2023, 6, 1),
    end=dt.date(2023, 7, 31),
)
PIPE_TILE = "14N-0080-0752"


def pipe_request(scenes: Path, output: Path, **overrides: Any) -> FusionRequest:
    fields: dict[str, Any] = {
        "catalog": str(scenes),
        "output": str(output),
        "start": dt.date(2023, 6, 1),
        "end": dt.date(2023, 7, 31),
        "model": "starfm",
        "tile_size": 256,
        "block_size": 128,
        "tiles": (PIPE_TILE,),
    }
    fields.update(overrides)
    return FusionRequest(**fields)
