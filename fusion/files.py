"""Fuse a user's own GeoTIFFs, without a STAC catalog (``fusion fuse-files``).

Each file becomes a :class:`~fusion.catalog.Scene` of its own (its bands by name and 1-based
file band, its mask file or its own footprint as the usable mask, its scale, offset and
nodata), so everything after that is the pipeline's: the spatiotemporal task plans the job
from the files' dates (:meth:`~fusion.tasks.base.FusionTask.jobs`, nearest reference pairs)
and reads each block (:meth:`~fusion.tasks.base.FusionTask.block_inputs`); the model package
fuses it (:meth:`~fusion.models.package.LoadedModel.predict`); blocks are cut, checked and
stitched by :mod:`fusion.blockfuse`; the product is the pipeline's COG
(:func:`fusion.publish.write_product_cog`) and, asked for, its Item and catalog
(:func:`fusion.publish.write_product`, :func:`fusion.publish.update_catalog`).

The output grid is the fine file's own (CRS, pixel size, top-left corner) unless an
:class:`OutputGrid` is given; the product is one square tile from that corner whose side is the
larger side of the fine image rounded up to the model's block alignment (16 for MODIS-like
coarse images at ratio 16): pixels beyond the image are nodata.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds
from shapely.geometry import box, mapping

from fusion.blockfuse import fuse_tile
from fusion.blockio import MASK_FOOTPRINT, MASK_NONZERO
from fusion.catalog import Projection, Scene, wgs84_polygon
from fusion.errors import ConfigError, InputFileError, SceneNotFound
from fusion.grid import GridSpec, Tile
from fusion.models import resolve_model
from fusion.models.package import LoadedModel, ModelMetadata, load_model_package
from fusion.pairing import MAX_GAP_DAYS, FusionJob, Observation, PairingConfig
from fusion.publish import ProductSpec, product_spec, update_catalog, write_product, write_product_cog
from fusion.storage import join_inside
from fusion.tasks import SPATIOTEMPORAL, get_task

#: The roles a file may have (the spatiotemporal task's).
ROLES = ("fine", "coarse")
#: The collection and sensor name of scenes made from files (no sensor table: bands by name).
FILES_COLLECTION = "files"
#: The name of the output grid (its one tile is ``files-0000-0000``).
GRID_NAME = "files"
#: A ``bands`` entry for a file band the model does not use.
SKIP_BAND = "-"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class InputFile:
    """One image file: its role (``fine`` or ``coarse``), the date it shows and, optionally, a
    mask file (non-zero = usable) and the model band each file band is (in file order, ``-`` for
    a band to leave out)."""

    role: str
    date: dt.date
    path: str
    mask: str | None = None
    bands: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ConfigError(f"file {self.path}: role {self.role!r} is not one of {', '.join(ROLES)}")

    @property
    def label(self) -> str:
        return f"--{self.role} {self.date.isoformat()}={self.path}"


@dataclass(frozen=True)
class OutputGrid:
    """The output grid, where it is not the fine file's own: CRS, pixel size, the top-left
    corner of the product and its side in pixels (the product is square). A field left None
    takes the fine file's value (its CRS, its pixel size, its top-left corner, its larger side
    rounded up to the model's block alignment)."""

    crs: str | None = None
    resolution: float | None = None
    origin_x: float | None = None
    origin_y: float | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        if self.size is not None and (
            isinstance(self.size, bool) or not isinstance(self.size, int) or self.size <= 0
        ):
            raise ConfigError(f"grid size {self.size!r} must be a positive number of pixels, e.g. 512")
        if (self.origin_x is None) != (self.origin_y is None):
            raise ConfigError("give both coordinates of the grid origin (--origin X,Y)")
        # The CRS and pixel size are checked as a GridSpec checks them.
        GridSpec(self.crs or "EPSG:4326", self.resolution or 1.0, 0.0, 0.0, 1)


@dataclass(frozen=True)
class FuseFilesRequest:
    """What ``fusion fuse-files`` fuses: the files, the target date and the model, where it
    writes, and how to read the files (band names, nodata, scale and offset for all files that
    do not say otherwise)."""

    files: tuple[InputFile, ...]
    target: dt.date
    output: str
    model: str = "starfm"
    #: the model band of each file band, for files that give none of their own
    bands: tuple[str, ...] | None = None
    #: the value of missing pixels, where a file states none (a file's own nodata wins)
    nodata: float | None = None
    #: stored value x scale + offset = reflectance; None: the file's own scale/offset tags, else
    #: 1e-4 for integer files and 1 for floating-point ones
    scale: float | None = None
    offset: float | None = None
    grid: OutputGrid | None = None
    block_size: int = 512
    stac: bool = False
    cog_profile: str = "zstd"

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", tuple(self.files))
        if not self.output or not str(self.output).strip():
            raise ConfigError("output is empty; give the folder to write the product to")
        if isinstance(self.block_size, bool) or not isinstance(self.block_size, int) or self.block_size <= 0:
            raise ConfigError(f"block_size {self.block_size!r} must be a positive number of pixels, e.g. 512")
        seen: dict[tuple[str, dt.date], str] = {}
        for f in self.files:
            key = (f.role, f.date)
            if key in seen:
                raise ConfigError(
                    f"two {f.role} files for {f.date}: {seen[key]} and {f.path}; give one file per "
                    "role and date"
                )
            seen[key] = f.path
        if not any(f.role == "coarse" and f.date == self.target for f in self.files):
            dates = sorted(f.date.isoformat() for f in self.files if f.role == "coarse")
            raise ConfigError(
                f"no coarse file for the target date {self.target}: the coarse files are of "
                f"{', '.join(dates) or 'no date'}; add --coarse {self.target}=PATH"
            )
        if any(f.role == "fine" and f.date == self.target for f in self.files):
            raise ConfigError(
                f"a fine file is given for the target date {self.target}: that is the image the "
                "fusion predicts; leave it out (score against it with fusion.api.score)"
            )


@dataclass(frozen=True)
class FuseFilesResult:
    """What :func:`fuse_files` wrote."""

    product_id: str
    cog: str  #: the product COG
    item: str | None  #: its STAC Item (with ``stac``), else None
    tile: Tile  #: the output grid and extent
    valid_fraction: float
    spec: ProductSpec = field(repr=False)


@dataclass(frozen=True)
class FileInfo:
    """What a file's header says."""

    path: str
    crs: str
    epsg: int | None
    transform: rasterio.Affine
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None
    scale: float
    offset: float

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        t = self.transform
        xs = (t.c, t.c + t.a * self.width)
        ys = (t.f, t.f + t.e * self.height)
        return min(xs), min(ys), max(xs), max(ys)


def inspect_file(path: str, what: str = "file") -> FileInfo:
    """The header of a GeoTIFF (or any raster GDAL reads). Raises SceneNotFound for a missing
    file and InputFileError for one that does not open or has no CRS."""
    if "://" not in path and not Path(path).is_file():
        raise SceneNotFound(f"{what} {path} does not exist; check the path")
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise InputFileError(
                    f"{what} {path} has no CRS, so it cannot be placed on a map; georeference it "
                    "(e.g. gdal_edit.py -a_srs EPSG:32649) and try again"
                )
            scales, offsets = src.scales, src.offsets
            integer = src.dtypes[0].startswith(("int", "uint"))
            has_tags = any(v != 1.0 for v in scales) or any(v != 0.0 for v in offsets)
            return FileInfo(
                path=path,
                crs=src.crs.to_string(),
                epsg=src.crs.to_epsg(),
                transform=src.transform,
                width=src.width,
                height=src.height,
                count=src.count,
                dtype=src.dtypes[0],
                nodata=src.nodata,
                scale=float(scales[0]) if has_tags else (1e-4 if integer else 1.0),
                offset=float(offsets[0]) if has_tags else 0.0,
            )
    except InputFileError:
        raise
    except (RasterioError, OSError) as exc:
        raise InputFileError(f"{what} {path} cannot be read as a raster ({exc}); give a GeoTIFF") from exc


def file_bands(
    f: InputFile, info: FileInfo, default: tuple[str, ...] | None, needed: Sequence[str]
) -> dict[str, int]:
    """Model band -> 1-based file band of ``f``. Refuses a band list whose length is not the
    file's band count, a band named twice, and a file that lacks a band the model needs."""
    names = f.bands or default
    if names is None:
        if info.count != len(needed):
            raise InputFileError(
                f"{f.label}: the file has {info.count} band(s) and the model reads {len(needed)} "
                f"({', '.join(needed)}); say which file band is which with --bands, e.g. "
                f"--bands {','.join(list(needed)[: info.count])}"
            )
        names = tuple(needed)
    if len(names) != info.count:
        raise InputFileError(
            f"{f.label}: --bands names {len(names)} band(s) ({','.join(names)}) but the file has "
            f"{info.count}; name every file band in file order, '-' for one to leave out"
        )
    used = [n for n in names if n != SKIP_BAND]
    twice = sorted({n for n in used if used.count(n) > 1})
    if twice:
        raise ConfigError(f"{f.label}: band(s) {twice} named twice in --bands {','.join(names)}")
    missing = [b for b in needed if b not in used]
    if missing:
        raise InputFileError(
            f"{f.label}: the model needs band(s) {', '.join(missing)}, which --bands "
            f"{','.join(names)} does not name; the model's bands are {', '.join(needed)} (choose a "
            "model of the file's bands, or name the file's bands with --bands)"
        )
    return {name: i for i, name in enumerate(names, start=1) if name != SKIP_BAND}


def file_scene(f: InputFile, info: FileInfo, band_index: dict[str, int], request: FuseFilesRequest) -> Scene:
    """``f`` as a :class:`Scene` the task reads like a catalog scene."""
    path = os.path.abspath(f.path) if "://" not in f.path else f.path
    mask = (os.path.abspath(f.mask) if "://" not in f.mask else f.mask) if f.mask else None
    when = dt.datetime.combine(f.date, dt.time(0), dt.UTC)
    geom = wgs84_polygon(info.bounds, info.crs)
    nodata = request.nodata if info.nodata is None else info.nodata
    scale = info.scale if request.scale is None else request.scale
    offset = info.offset if request.offset is None else request.offset
    return Scene(
        # The id names the mask too: it goes into the product id, which another mask must change.
        id=f"{f.role}-{f.date:%Y%m%d}-{Path(path).stem}" + (f"-mask-{Path(mask).stem}" if mask else ""),
        collection=FILES_COLLECTION,
        sensor=FILES_COLLECTION,
        datetime=when,
        start_datetime=when,
        end_datetime=when,
        bbox=tuple(geom.bounds),
        geometry=mapping(geom),
        cloud_cover=None,
        bands=dict.fromkeys(band_index, path),
        qa_href=mask or path,
        scale_offset=dict.fromkeys(band_index, (scale, offset)),
        nodata=dict.fromkeys(band_index, nodata),
        projection=Projection(
            info.epsg, None if info.epsg else info.crs, tuple(info.transform)[:6], (info.height, info.width)
        ),
        item_href=path,
        band_index=band_index,
        qa_decoder=MASK_NONZERO if mask else MASK_FOOTPRINT,
    )


def check_model(model: LoadedModel, source: str) -> None:
    """Refuse a package of another task than spatiotemporal (the one whose inputs are files)."""
    meta = model.metadata
    if meta.task != SPATIOTEMPORAL:
        raise ConfigError(
            f"model {source!r} is a {meta.task!r} model; fuse-files fuses {SPATIOTEMPORAL} models "
            "(fine and coarse images of reference dates and a coarse image of the target date): "
            "choose one such as starfm, naive or dcstfn (`fusion models` lists tasks)"
        )
    get_task(SPATIOTEMPORAL).check_model(meta, str(model.path))


def output_tile(request: FuseFilesRequest, fine: FileInfo, align: int) -> Tile:
    """The product's tile: the fine file's grid from its top-left corner, with what
    ``request.grid`` sets instead."""
    g = request.grid or OutputGrid()
    t = fine.transform
    crs = g.crs or fine.crs
    same_crs = CRS.from_user_input(crs) == CRS.from_user_input(fine.crs)
    north_up = not (t.b or t.d) and t.a > 0 and t.e < 0 and math.isclose(t.a, -t.e, rel_tol=1e-9)
    if g.resolution is not None:
        resolution = g.resolution
    elif same_crs and north_up:
        resolution = t.a
    else:
        why = "is not north-up with square pixels" if same_crs else f"is in {fine.crs}, not {crs}"
        raise InputFileError(f"fine file {fine.path} {why}; give the output pixel size with --resolution")
    minx, miny, maxx, maxy = (
        fine.bounds if same_crs else transform_bounds(fine.crs, crs, *fine.bounds, densify_pts=21)
    )
    x0 = minx if g.origin_x is None else g.origin_x
    y0 = maxy if g.origin_y is None else g.origin_y
    if g.size is not None:
        size = g.size
        if size % align:
            raise ConfigError(
                f"grid size {size} must be a multiple of {align} (the model's block alignment); "
                f"use {-(-size // align) * align}"
            )
    else:
        extent = max((maxx - x0) / resolution, (y0 - miny) / resolution, 1.0)
        size = -(-math.ceil(extent - 1e-6) // align) * align
    return GridSpec(crs, resolution, x0, y0, size, GRID_NAME).tile(0, 0)


def check_overlap(f: InputFile, info: FileInfo, tile: Tile) -> None:
    """Refuse a file that lies wholly outside the output tile."""
    try:
        bounds = transform_bounds(info.crs, tile.grid.crs, *info.bounds, densify_pts=21)
    except Exception as exc:  # pyproj/GDAL: a CRS pair without a transformation
        raise InputFileError(
            f"{f.label}: its CRS {info.crs} cannot be transformed to {tile.grid.crs}: {exc}"
        ) from exc
    if box(*bounds).intersection(box(*tile.bounds)).area <= 0:
        fmt = ", ".join(f"{v:.1f}" for v in bounds)
        grid = ", ".join(f"{v:.1f}" for v in tile.bounds)
        raise InputFileError(
            f"{f.label}: the file does not overlap the output grid: its bounds ({fmt}) and the "
            f"grid's ({grid}) in {tile.grid.crs} do not meet; check its georeference and date, or "
            "give an output grid that covers it (--origin, --size)"
        )


def plan_job(request: FuseFilesRequest, scenes: dict[InputFile, Scene], tile: Tile) -> FusionJob:
    """The job the spatiotemporal task plans from the files: the target date's coarse file and
    the nearest reference pairs (a fine and a coarse file of one date) before and after it."""
    task = get_task(SPATIOTEMPORAL)
    coarse_dates = {f.date for f in scenes if f.role == "coarse"}
    for f in scenes:
        if f.role == "fine" and f.date not in coarse_dates:
            raise ConfigError(
                f"{f.label}: no coarse file of {f.date}; a reference pair is a fine and a coarse "
                f"image of one date: add --coarse {f.date}=PATH"
            )
    if not any(f.role == "fine" for f in scenes):
        raise ConfigError(
            "no fine file; give at least one reference date's --fine DATE=PATH and --coarse DATE=PATH"
        )
    observations = [
        Observation(scene, f.role, tile.id, 1.0, tile_size=tile.shape[0]) for f, scene in scenes.items()
    ]
    pairing = PairingConfig(
        max_gap_days=MAX_GAP_DAYS, match_tolerance_days=0, min_target_clear=0.0, min_reference_clear=0.0
    )
    jobs, skips = task.jobs(observations, pairing, (request.target, request.target))
    if not jobs:
        why = skips[0].reason if skips else "no job"
        raise ConfigError(f"cannot fuse {request.target}: {why}")
    return jobs[0]


def fuse_files(request: FuseFilesRequest, progress: Progress | None = None) -> FuseFilesResult:
    """Fuse the request's files into one product; see the module docstring."""
    say = progress or (lambda message: None)
    model_dir = resolve_model(request.model)
    model = load_model_package(model_dir)
    check_model(model, request.model)
    meta: ModelMetadata = model.metadata
    task = get_task(SPATIOTEMPORAL)
    say(f"model {meta.name} {meta.version} ({model_dir}): bands {', '.join(meta.bands)}")
    infos = {f: inspect_file(f.path, f"{f.role} file") for f in request.files}
    for f in request.files:
        if f.mask:
            inspect_file(f.mask, f"mask file of {f.label}")
    fine = next((f for f in request.files if f.role == "fine"), None)
    if fine is None:
        raise ConfigError(
            "no fine file; give at least one reference date's --fine DATE=PATH and --coarse DATE=PATH"
        )
    first = infos[fine]
    resolution = (request.grid.resolution if request.grid else None) or abs(first.transform.a)
    align = task.block_alignment(meta, resolution)
    if request.block_size % align:
        raise ConfigError(
            f"block_size {request.block_size} must be a multiple of {align} for model {meta.name!r}"
        )
    tile = output_tile(request, first, align)
    corner = f"({tile.transform.c:.1f}, {tile.transform.f:.1f})"
    say(f"grid {tile.grid.crs}, {tile.grid.resolution:g} m, {tile.shape[0]} px square from {corner}")
    scenes: dict[InputFile, Scene] = {}
    for f in request.files:
        info = infos[f]
        needed = tuple(dict.fromkeys(b for spec in meta.inputs if spec.role == f.role for b in spec.bands))
        check_overlap(f, info, tile)
        scenes[f] = file_scene(f, info, file_bands(f, info, request.bands, needed), request)
        say(f"{f.role} {f.date}: {f.path} ({info.count} bands, {info.width} x {info.height} px)")
    job = plan_job(request, scenes, tile)
    spec = product_spec(
        job,
        meta,
        model.checksum,
        str(model_dir),
        dict(meta.parameters),
        task.lineage(job, meta),
        block_size=request.block_size,
    )
    refs = ", ".join(str(p.date) for p in job.pairs[: meta.reference_pairs[1]])
    say(f"fusing {request.target} from reference pair(s) of {refs}")
    data, valid = fuse_tile(
        task, job, tile, model, request.block_size, align, product_id=spec.product_id, progress=say
    )
    if not valid.any():
        raise InputFileError(
            f"no valid pixel in the product of {request.target}: the files' usable pixels (masks, "
            "nodata) do not meet on the output grid; check the masks and --nodata"
        )
    item: str | None = None
    if request.stac:
        item = write_product(spec, request.output, tile, data, valid, cog_profile=request.cog_profile)
        update_catalog(request.output, [str(model_dir)], {}, [item])
        cog = spec.cog_path(request.output)
    else:
        cog = write_product_cog(
            spec,
            join_inside(request.output, f"{spec.product_id}.tif"),
            tile,
            data,
            valid,
            cog_profile=request.cog_profile,
        )
    say(f"wrote {cog} ({valid.mean():.0%} valid)")
    return FuseFilesResult(spec.product_id, cog, item, tile, float(valid.mean()), spec)
