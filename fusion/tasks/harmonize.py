"""The ``harmonize`` task (seed 002): Sentinel-2 L2A at t → Landsat-8-OLI-like 30 m at t.

Inputs are read at their native pixel sizes (B02, B03, B04, B08 at 10 m; B11, B12 at 20 m;
seed 002 Table I) on windows aligned with the 30 m output grid, so a model sees exactly the
pixels the sensor delivered: 3 × 3 10 m pixels and 1.5 × 1.5 20 m pixels per output pixel.
Output bands are Landsat OLI's blue, green, red, nir08, swir16, swir22.

* Jobs: every clear-enough Sentinel-2 observation of a tile in the period is one product.
* Training pairs (a ``pairs`` training set, ``fusion training-set --task harmonize``): a
  Sentinel-2 and a Landsat observation within ±1 day, both clear enough, read whole on the tile.

The HLS bandpass coefficients are NASA's published ones (HLS v2.0,
https://hls.gsfc.nasa.gov/algorithms/bandpass-adjustment/): OLI = slope · MSI + offset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.enums import Resampling

from fusion.blockio import GridWindow, SceneReadCache, fill_invalid, read_scene, tile_clear_fraction
from fusion.catalog import DroppedItem, Scene
from fusion.errors import BlockReadError, ConfigError, FusionError
from fusion.grid import Block, Tile, Window
from fusion.models.package import ModelMetadata, TensorSpecJson
from fusion.pairing import FusionJob, Observation, PairingConfig, Skip, low_clear_reason
from fusion.request import FusionRequest, search_scenes
from fusion.sensors import LANDSAT_OLI
from fusion.tasks import HARMONIZE
from fusion.tasks.base import (
    PAIR_TRAINING_SET,
    BlockRead,
    FusionTask,
    JobLineage,
    PairRead,
    Role,
    TrainingPair,
)

NAME = HARMONIZE

#: Sentinel-2 inputs (STAC common names of the sentinel-2-l2a collection) by native pixel size.
SOURCE_10M: tuple[str, ...] = ("blue", "green", "red", "nir")  # B02 B03 B04 B08
SOURCE_20M: tuple[str, ...] = ("swir16", "swir22")  # B11 B12
#: Landsat-8 OLI-like output bands (OLI B2-B7).
OUTPUT_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir08", "swir16", "swir22")
PLATFORMS: tuple[str, ...] = ("sentinel-2a", "sentinel-2b", "sentinel-2c")

#: HLS v2.0 bandpass adjustment MSI → OLI, (slope, offset) per OLI-like band. NIR is MSI B8A.
HLS_BANDPASS: dict[str, dict[str, tuple[float, float]]] = {
    "sentinel-2a": {
        "blue": (0.9778, -0.004),
        "green": (1.0053, -0.0009),
        "red": (0.9765, 0.0009),
        "nir08": (0.9983, -0.0001),
        "swir16": (0.9987, -0.0011),
        "swir22": (1.003, -0.0012),
    },
    "sentinel-2b": {
        "blue": (0.9778, -0.004),
        "green": (1.0075, -0.0008),
        "red": (0.9761, 0.001),
        "nir08": (0.9966, 0.0),
        "swir16": (1.0, -0.0003),
        "swir22": (0.9867, 0.0004),
    },
}
#: Whose coefficients each platform uses. Sentinel-2C's own coefficients were not in the
#: sources available to us; it uses Sentinel-2A's (the unit whose RSRs HLS takes as reference
#: for CA and blue) until they are added here.
HLS_SOURCE: dict[str, str] = {
    "sentinel-2a": "sentinel-2a",
    "sentinel-2b": "sentinel-2b",
    "sentinel-2c": "sentinel-2a",
}


def harmonize_inputs(platform: bool) -> tuple[TensorSpecJson, ...]:
    """Input tensors of a harmonize package (``platform``: also the one-hot platform)."""
    specs = [
        TensorSpecJson("s2_10m", "source", "t0", 1, SOURCE_10M, pixel_size=10.0),
        TensorSpecJson("s2_20m", "source", "t0", 1, SOURCE_20M, pixel_size=20.0),
    ]
    if platform:
        specs.append(TensorSpecJson("platform", "platform", "t0", 1, PLATFORMS))
    return tuple(specs)


# ------------------------------------------------------------------------------------------
# Grids at the sources' pixel sizes


def pixel_factor(output_pixel: float, pixel_size: float) -> Fraction:
    """Source pixels per output pixel along one axis (30 m / 10 m = 3, 30 m / 20 m = 3/2)."""
    return Fraction(output_pixel).limit_denominator(1000) / Fraction(pixel_size).limit_denominator(1000)


def block_alignment(metadata: ModelMetadata, output_pixel: float) -> int:
    """The multiple that block sizes, halos and tile sizes must be of, so that every source
    window is a whole number of source pixels (2 for 20 m sources on a 30 m grid)."""
    align = metadata.coarse_ratio
    for spec in metadata.inputs:
        if spec.role == "source" and spec.pixel_size is not None:
            denominator = pixel_factor(output_pixel, spec.pixel_size).denominator
            align = align * denominator // np.gcd(align, denominator)
    return int(align)


def source_grid(tile: Tile, window: Window, pixel_size: float) -> GridWindow:
    """``window`` (output pixels of ``tile``) on the aligned grid of ``pixel_size`` metres."""
    factor = pixel_factor(abs(tile.transform.a), pixel_size)
    values = [window.row * factor, window.col * factor, window.height * factor, window.width * factor]
    if any(v.denominator != 1 for v in values):
        raise ConfigError(
            f"window {window} of tile {tile.id} is not a whole number of {pixel_size:g} m pixels; "
            "use block, halo and tile sizes that are multiples of "
            f"{factor.denominator}"
        )
    row, col, height, width = (int(v) for v in values)
    scale = pixel_size / abs(tile.transform.a)
    transform = tile.transform @ Affine.scale(scale) @ Affine.translation(col, row)
    return GridWindow(tile.grid.crs, transform, height, width)


def reduce_mask(mask: npt.NDArray[np.bool_], factor: Fraction) -> npt.NDArray[np.bool_]:
    """A source-pixel mask on the output grid: an output pixel is usable when every source
    pixel it touches is (20 m: each 20 m pixel is split into 2 × 2 first)."""
    up = int(factor.denominator)
    fine = np.repeat(np.repeat(mask, up, axis=0), up, axis=1) if up > 1 else mask
    n = int(factor.numerator)
    h, w = fine.shape[0] // n, fine.shape[1] // n
    return np.asarray(fine[: h * n, : w * n].reshape(h, n, w, n).all(axis=(1, 3)), dtype=bool)


def platform_onehot(scene: Scene, platforms: Sequence[str]) -> npt.NDArray[np.float32]:
    """(1, 1, P) one-hot of the scene's platform; refuses a platform the model does not know."""
    name = str(scene.properties.get("platform", "")).lower()
    if name not in platforms:
        raise BlockReadError(
            f"scene {scene.id}: platform {name or None!r} is not one the model has coefficients for "
            f"({', '.join(platforms)}); the item needs a 'platform' property naming one of them",
            scene.item_href,
        )
    out = np.zeros((1, 1, len(platforms)), np.float32)
    out[0, 0, list(platforms).index(name)] = 1.0
    return out


@dataclass
class SourceTile:
    """One Sentinel-2 scene on a window of the output grid, at its native pixel sizes."""

    arrays: dict[str, npt.NDArray[np.float32]]  #: input name -> (h, w, C), NaN where unusable
    usable: npt.NDArray[np.bool_]  #: on the output grid
    nbytes: int


def read_source(scene: Scene, tile: Tile, window: Window, metadata: ModelMetadata) -> SourceTile:
    """Read every ``source`` input of ``metadata`` for ``window`` of ``tile`` (not filled)."""
    arrays: dict[str, npt.NDArray[np.float32]] = {}
    usable = np.ones((window.height, window.width), bool)
    nbytes = 0
    out_pixel = abs(tile.transform.a)
    for spec in metadata.inputs:
        if spec.role == "source":
            assert spec.pixel_size is not None  # noqa: S101 - checked by TensorSpecJson
            grid = source_grid(tile, window, spec.pixel_size)
            block = read_scene(scene, list(spec.bands), grid, Resampling.nearest)
            arrays[spec.name] = block.reflectance
            usable &= reduce_mask(block.usable, pixel_factor(out_pixel, spec.pixel_size))
            nbytes += block.reflectance.nbytes
        elif spec.role == "platform":
            arrays[spec.name] = platform_onehot(scene, spec.bands)
    return SourceTile(arrays, usable, nbytes)


# ------------------------------------------------------------------------------------------
# Jobs and training pairs


def harmonize_jobs(
    observations: Sequence[Observation], config: PairingConfig, period: tuple[dt.date, dt.date] | None = None
) -> tuple[list[FusionJob], list[Skip]]:
    """One job per clear-enough Sentinel-2 (role ``source``) date of a tile within ``period``.
    Of several scenes of one day (overlapping MGRS tiles) the one covering most clear pixels
    of the tile is used; the others are skipped with that reason."""
    jobs: list[FusionJob] = []
    skips: list[Skip] = []
    by_day: dict[dt.date, list[Observation]] = {}
    for obs in observations:
        if obs.role == "source" and (period is None or period[0] <= obs.date <= period[1]):
            by_day.setdefault(obs.date, []).append(obs)
    for day in sorted(by_day):
        ranked = sorted(by_day[day], key=lambda o: (-o.clear_fraction, o.scene.id))
        best = ranked[0]
        for other in ranked[1:]:
            skips.append(
                Skip(
                    other.tile_id,
                    day,
                    other.scene.id,
                    f"another Sentinel-2 scene of the same day covers more of the tile: {best.scene.id}",
                    other.scene.qa_href,
                )
            )
        if best.clear_fraction < config.min_target_clear:
            skips.append(
                Skip(
                    best.tile_id,
                    day,
                    best.scene.id,
                    low_clear_reason(best, config.min_target_clear, "min_target_clear"),
                    best.scene.qa_href,
                )
            )
            continue
        jobs.append(FusionJob(best.tile_id, best, ()))
    return jobs, skips


#: A Sentinel-2 observation (``source``) and the Landsat observation (``target``) of about the same day.
HarmonizePair = TrainingPair


def same_day_pairs(
    observations: Sequence[Observation], max_days: int = 1, min_clear: float = 0.3
) -> list[HarmonizePair]:
    """Sentinel-2 (role ``source``) and Landsat (role ``fine``) observations within
    ``max_days`` of each other, both at least ``min_clear`` clear; each Sentinel-2 scene with
    its nearest Landsat scene."""
    landsat = [o for o in observations if o.role == "fine" and o.clear_fraction >= min_clear]
    out = []
    for s2 in sorted((o for o in observations if o.role == "source"), key=lambda o: (o.date, o.scene.id)):
        if s2.clear_fraction < min_clear:
            continue
        near = [o for o in landsat if abs((o.date - s2.date).days) <= max_days]
        if near:
            best = min(near, key=lambda o: (abs((o.date - s2.date).days), o.scene.id))
            out.append(HarmonizePair(s2, best))
    return out


def tile_pairs(
    request: FusionRequest, min_clear: float, report: Callable[[str], None]
) -> list[tuple[Tile, HarmonizePair]]:
    """Every ±1-day Sentinel-2 / Landsat pair of a harmonize request's tiles and period, by
    tile and date; an item the search cannot use and a scene whose QA cannot be read are
    reported and left out."""
    tiles: dict[str, Tile] = {}
    observations: dict[str, list[Observation]] = {}
    dropped: list[DroppedItem] = []
    found = search_scenes(request, with_targets=True, dropped=dropped)
    for bad in dropped:
        report(f"skipped item {bad.text()}")
    for item in found:
        tiles[item.tile.id] = item.tile
        try:
            clear = tile_clear_fraction(item.scene, item.tile, 8)
        except FusionError as exc:
            report(f"{item.scene.id}: {exc}")
            continue
        observations.setdefault(item.tile.id, []).append(
            Observation(item.scene, item.role, item.tile.id, clear, item.coverage, item.tile.grid.tile_size)
        )
    return [
        (tiles[t], pair)
        for t in sorted(observations)
        for pair in same_day_pairs(observations[t], 1, min_clear)
    ]


def read_pair(pair: HarmonizePair, tile: Tile) -> PairRead:
    """A pair read whole on ``tile``: Sentinel-2 at 10 and 20 m (the inputs of a package
    without platform input), Landsat at 30 m in :data:`OUTPUT_BANDS`; usable where both are."""
    meta = ModelMetadata("reader", "0", NAME, "", OUTPUT_BANDS, harmonize_inputs(platform=False))
    window = Window(0, 0, *tile.shape)
    source = read_source(pair.source.scene, tile, window, meta)
    target = read_scene(
        pair.target.scene, list(OUTPUT_BANDS), GridWindow.of(tile, window), Resampling.nearest
    )
    return PairRead(
        inputs=source.arrays,
        target=target.reflectance,
        usable=source.usable & target.usable,
        attributes={"platform": str(pair.source.scene.properties.get("platform", "")).lower()},
    )


# ------------------------------------------------------------------------------------------
# The task


class HarmonizeTask(FusionTask):
    name = NAME
    description = "Sentinel-2 MSI (10/20 m) at t -> Landsat-8-OLI-like 30 m at t"
    default_model = "bandpass"
    roles = (
        Role("source", "sentinel-2-l2a", defines_grid=True, description="the scenes turned into products"),
        Role("fine", "landsat-c2-l2", target_only=True, description="Landsat targets (training, scoring)"),
    )
    input_roles = ("source", "platform")
    input_times = ("t0",)
    metrics = ("sam", "ergas", "rmse", "uiqi", "psnr")  # seed 002 Table IV
    training_set = PAIR_TRAINING_SET

    def search_period(
        self, start: dt.date, end: dt.date, pairing: PairingConfig, with_targets: bool = False
    ) -> tuple[dt.date, dt.date]:
        # A Landsat target is matched within one day of its Sentinel-2 scene.
        slack = dt.timedelta(days=1 if with_targets else 0)
        return start - slack, end + slack

    def jobs(
        self,
        observations: Sequence[Observation],
        pairing: PairingConfig,
        period: tuple[dt.date, dt.date] | None = None,
    ) -> tuple[list[FusionJob], list[Skip]]:
        return harmonize_jobs(observations, pairing, period)

    def lineage(self, job: FusionJob, metadata: ModelMetadata) -> JobLineage:
        scene = job.target.scene
        # Products are Landsat-8 OLI equivalents (HLS's reference sensor): OLI's wavelengths.
        return JobLineage(
            (("target", scene.id, scene.item_href),),
            scene.start_datetime,
            scene.end_datetime,
            input_collections=(scene.collection,),
            output_sensor=LANDSAT_OLI.name,
        )

    def block_alignment(self, metadata: ModelMetadata, output_pixel: float) -> int:
        return block_alignment(metadata, output_pixel)

    def training_pairs(self, observations: Sequence[Observation], min_clear: float) -> list[TrainingPair]:
        """Every Sentinel-2 scene with its nearest Landsat scene within ±1 day, by date."""
        return same_day_pairs(observations, 1, min_clear)

    def read_training_pair(self, pair: TrainingPair, tile: Tile) -> PairRead:
        return read_pair(pair, tile)

    def read_block(
        self,
        job: FusionJob,
        tile: Tile,
        block: Block,
        metadata: ModelMetadata,
        cache: SceneReadCache | None = None,
    ) -> BlockRead:
        """The model inputs of a harmonize job for one block (invalid pixels filled, masked out)."""
        source = read_source(job.target.scene, tile, block.read, metadata)
        sources = {s.name for s in metadata.inputs if s.role == "source"}
        arrays = {k: fill_invalid(v) if k in sources else v for k, v in source.arrays.items()}
        return BlockRead(
            arrays=arrays,
            output_valid=source.usable,
            bytes_read=source.nbytes,
            notes={"target_usable": float(source.usable.mean())},
        )


TASK = HarmonizeTask()
