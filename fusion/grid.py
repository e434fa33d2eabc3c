"""Output grids, aligned coarse grids and block planning.

Conventions: a grid is north-up; its origin is the *top-left* corner of tile (0, 0); tile
columns grow eastwards and rows southwards; windows are ``(row, col, height, width)`` in pixels.

* :func:`utm_grid` gives MGRS-like UTM tiles: square tiles of ``tile_size`` pixels anchored at
  easting 0 / northing 10 000 000 m of a UTM zone, so every zone has one fixed, global tiling
  at a given resolution (HLS uses 109.8 km tiles = 3660 px at 30 m; the demo uses 1024 px).
* :meth:`GridSpec.coarsen` gives the coarse grid whose pixel is an integer multiple of the fine
  pixel and shares its origin, so every coarse pixel covers exactly ``factor x factor`` fine
  pixels (seed 001 reads MODIS at 480 m = 16 Landsat pixels for this reason).
* :func:`plan_blocks` cuts a tile into blocks whose *core* windows cover every pixel exactly
  once, each read with a halo; :func:`crop_halo` cuts the core back out of a block result.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import CRS

from fusion.errors import ConfigError, GridError

#: Northing of the UTM grid anchor: every UTM northing (north or south) is below it.
UTM_ANCHOR_NORTHING = 10_000_000.0


@dataclass(frozen=True, order=True)
class Window:
    """A pixel window: ``row``/``col`` offset of the top-left pixel, then its size."""

    row: int
    col: int
    height: int
    width: int

    def __post_init__(self) -> None:
        if self.height < 0 or self.width < 0:
            raise GridError(f"window size must be >= 0, got {self.height} x {self.width}")

    @property
    def slices(self) -> tuple[slice, slice]:
        if self.row < 0 or self.col < 0:
            raise GridError(f"{self} starts outside the array; it has no array slices")
        return slice(self.row, self.row + self.height), slice(self.col, self.col + self.width)

    @property
    def row_stop(self) -> int:
        return self.row + self.height

    @property
    def col_stop(self) -> int:
        return self.col + self.width

    def translate(self, drow: int, dcol: int) -> Window:
        return Window(self.row + drow, self.col + dcol, self.height, self.width)

    def intersection(self, other: Window) -> Window:
        r0, c0 = max(self.row, other.row), max(self.col, other.col)
        r1, c1 = min(self.row_stop, other.row_stop), min(self.col_stop, other.col_stop)
        return Window(r0, c0, max(0, r1 - r0), max(0, c1 - c0))

    def expand(self, halo: int) -> Window:
        return Window(self.row - halo, self.col - halo, self.height + 2 * halo, self.width + 2 * halo)

    def to_rasterio(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``((row_start, row_stop), (col_start, col_stop))`` as rasterio accepts it."""
        return (self.row, self.row_stop), (self.col, self.col_stop)


@dataclass(frozen=True)
class GridSpec:
    """A tiled, north-up output grid: CRS, pixel size, top-left origin and tile size."""

    crs: str
    resolution: float
    origin_x: float
    origin_y: float
    tile_size: int
    name: str = "user"

    def __post_init__(self) -> None:
        if not (self.resolution > 0 and math.isfinite(self.resolution)):
            raise ConfigError(f"grid resolution must be a positive number, got {self.resolution!r}")
        if self.tile_size <= 0:
            raise ConfigError(f"grid tile_size must be a positive pixel count, got {self.tile_size}")
        try:
            CRS.from_user_input(self.crs)
        except Exception as exc:  # pyproj raises its own CRSError
            raise ConfigError(
                f"grid CRS {self.crs!r} is not understood ({exc}); use e.g. 'EPSG:32614'"
            ) from exc

    @property
    def tile_extent(self) -> float:
        """Width (= height) of one tile in CRS units."""
        return self.resolution * self.tile_size

    @property
    def epsg(self) -> int | None:
        return CRS.from_user_input(self.crs).to_epsg()

    def tile(self, col: int, row: int) -> Tile:
        return Tile(self, col, row)

    def tile_by_id(self, tile_id: str) -> Tile:
        match = re.fullmatch(r"(?P<name>.+?)-(?P<col>-?\d+)-(?P<row>-?\d+)", tile_id)
        if not match:
            raise ConfigError(f"tile id {tile_id!r} is not of the form GRID-COL-ROW, e.g. 14N-0020-0188")
        tile = self.tile(int(match["col"]), int(match["row"]))
        if tile.id != tile_id:
            raise ConfigError(
                f"tile id {tile_id!r} does not belong to grid {self.name!r} (the output grid, from "
                f"the fine scenes' CRS {self.crs}); give tiles {self.name}-COL-ROW, or set epsg to "
                "the tiles' UTM zone"
            )
        return tile

    def tiles_for_bounds(self, bounds: tuple[float, float, float, float]) -> list[Tile]:
        """Every tile that intersects ``(minx, miny, maxx, maxy)`` (in the grid CRS)."""
        minx, miny, maxx, maxy = bounds
        if not (minx < maxx and miny < maxy):
            raise ConfigError(f"bounds {bounds} are empty; expected (minx, miny, maxx, maxy)")
        ext = self.tile_extent
        c0 = math.floor((minx - self.origin_x) / ext)
        c1 = math.ceil((maxx - self.origin_x) / ext)
        r0 = math.floor((self.origin_y - maxy) / ext)
        r1 = math.ceil((self.origin_y - miny) / ext)
        return [self.tile(c, r) for r in range(r0, r1) for c in range(c0, c1)]

    def coarsen(self, factor: int) -> GridSpec:
        """The aligned coarse grid: pixel ``factor`` times larger, same origin, same tiles."""
        if factor < 1 or int(factor) != factor:
            raise GridError(f"coarsening factor must be a positive integer, got {factor!r}")
        if self.tile_size % factor:
            raise GridError(
                f"tile size {self.tile_size} px is not a multiple of the coarsening factor "
                f"{factor}; choose a tile size divisible by {factor}"
            )
        return GridSpec(
            self.crs,
            self.resolution * factor,
            self.origin_x,
            self.origin_y,
            self.tile_size // factor,
            f"{self.name}/x{factor}",
        )


@dataclass(frozen=True)
class Tile:
    """One tile of a :class:`GridSpec`."""

    grid: GridSpec
    col: int
    row: int

    @property
    def id(self) -> str:
        return f"{self.grid.name}-{self.col:04d}-{self.row:04d}"

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.tile_size, self.grid.tile_size

    @property
    def transform(self) -> Affine:
        x0 = self.grid.origin_x + self.col * self.grid.tile_extent
        y0 = self.grid.origin_y - self.row * self.grid.tile_extent
        return Affine(self.grid.resolution, 0.0, x0, 0.0, -self.grid.resolution, y0)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        t = self.transform
        ext = self.grid.tile_extent
        return t.c, t.f - ext, t.c + ext, t.f

    def window_transform(self, window: Window) -> Affine:
        return self.transform * Affine.translation(window.col, window.row)

    def coarse(self, factor: int) -> Tile:
        """The same tile on the aligned coarse grid."""
        return Tile(self.grid.coarsen(factor), self.col, self.row)


def utm_epsg(zone: int, north: bool = True) -> int:
    if not 1 <= zone <= 60:
        raise ConfigError(f"UTM zone must be 1..60, got {zone}")
    return (32600 if north else 32700) + zone


def utm_grid(epsg: int, resolution: float = 30.0, tile_size: int = 1024) -> GridSpec:
    """MGRS-like fixed tiling of one UTM zone (WGS 84, EPSG 326xx / 327xx).

    Tiles are anchored at easting 0 and northing 10 000 000 m so that tile ids are stable and
    global for a given resolution and tile size. The grid name is ``{zone}{N|S}``.
    """
    if not (32601 <= epsg <= 32660 or 32701 <= epsg <= 32760):
        raise ConfigError(f"EPSG:{epsg} is not a WGS 84 UTM zone; use 32601-32660 or 32701-32760")
    zone = epsg % 100
    hemi = "N" if epsg < 32700 else "S"
    return GridSpec(f"EPSG:{epsg}", resolution, 0.0, UTM_ANCHOR_NORTHING, tile_size, f"{zone:02d}{hemi}")


def utm_tile_epsg(tile_id: str) -> int:
    """The EPSG code of a UTM grid tile id (``14N-0040-0376`` -> 32614), or a ConfigError that
    says what is wrong with the id: its form (``ZONE{N|S}-COL-ROW``, digits only) or its zone."""
    match = re.fullmatch(r"(?P<zone>\d{1,2})(?P<hemi>[NS])-(?P<col>\d+)-(?P<row>\d+)", tile_id)
    if not match:
        raise ConfigError(
            f"tile id {tile_id!r} is not of the form ZONE{{N|S}}-COL-ROW with digits, e.g. "
            "14N-0040-0376 (`fusion run --dry-run` lists the tiles of an area)"
        )
    zone = int(match["zone"])
    if not 1 <= zone <= 60:
        raise ConfigError(f"tile id {tile_id!r}: UTM zone {zone} does not exist (zones are 01-60)")
    return (32600 if match["hemi"] == "N" else 32700) + zone


# --------------------------------------------------------------------------------------------
# Coarse <-> fine windows


def fine_to_coarse_window(window: Window, factor: int) -> Window:
    """Smallest coarse window covering a fine window (exact when the fine window is aligned)."""
    r0, c0 = window.row // factor, window.col // factor
    r1 = -(-window.row_stop // factor)
    c1 = -(-window.col_stop // factor)
    return Window(r0, c0, r1 - r0, c1 - c0)


def coarse_to_fine_window(window: Window, factor: int) -> Window:
    """The fine window covered exactly by a coarse window."""
    return Window(window.row * factor, window.col * factor, window.height * factor, window.width * factor)


def is_aligned(window: Window, factor: int) -> bool:
    return all(v % factor == 0 for v in (window.row, window.col, window.height, window.width))


def upsample(coarse: npt.NDArray[np.floating], factor: int) -> npt.NDArray[np.floating]:
    """Nearest-neighbour upsampling of (..., H, W) by an integer factor (each coarse pixel to
    ``factor x factor`` fine pixels) - the inverse of the footprint of :func:`block_mean`."""
    return np.repeat(np.repeat(coarse, factor, axis=-2), factor, axis=-1)


def block_mean(fine: npt.NDArray[np.floating], factor: int) -> npt.NDArray[np.floating]:
    """Mean over non-overlapping ``factor x factor`` blocks of (..., H, W); NaN-aware."""
    *lead, h, w = fine.shape
    if h % factor or w % factor:
        raise GridError(f"array of {h} x {w} px is not a multiple of the factor {factor}")
    blocks = fine.reshape(*lead, h // factor, factor, w // factor, factor)
    out: npt.NDArray[np.floating]
    if not np.isnan(blocks).any():
        out = blocks.mean(axis=(-3, -1))
        return out
    with warnings.catch_warnings():
        # An all-NaN block is a legitimate NaN result, not something to warn about.
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.nanmean(blocks, axis=(-3, -1))
    return out


# --------------------------------------------------------------------------------------------
# Blocks


@dataclass(frozen=True)
class Block:
    """One unit of work inside a tile.

    ``core`` is the part of the tile this block is responsible for (cores partition the tile);
    ``read`` is the core grown by the halo - the window to read and to run the model on;
    ``core_in_read`` locates the core inside the read window, to crop the halo back off.
    """

    index: tuple[int, int]
    core: Window
    read: Window

    @property
    def core_in_read(self) -> Window:
        return Window(
            self.core.row - self.read.row, self.core.col - self.read.col, self.core.height, self.core.width
        )


def plan_blocks(
    height: int,
    width: int,
    block_size: int,
    halo: int,
    *,
    align: int = 1,
    clip: bool = False,
) -> list[Block]:
    """Cut a ``height x width`` tile into blocks of at most ``block_size`` px with a halo.

    ``align`` is the coarse factor that core offsets and the halo must be multiples of, so that
    every read window starts on a coarse pixel edge. With ``clip=False`` halos may extend
    beyond the tile (readers fetch from the larger source scenes, which makes tiles seamless);
    with ``clip=True`` read windows are clipped to the tile.
    """
    for label, value in (("height", height), ("width", width), ("block_size", block_size)):
        if value <= 0:
            raise GridError(f"{label} must be positive, got {value}")
    if halo < 0:
        raise GridError(f"halo must be >= 0, got {halo}")
    if align < 1:
        raise GridError(f"align must be >= 1, got {align}")
    if block_size % align or halo % align:
        raise GridError(
            f"block size {block_size} and halo {halo} must be multiples of the coarse factor "
            f"{align}; round them to multiples of {align}"
        )
    tile = Window(0, 0, height, width)
    blocks: list[Block] = []
    for bi, r in enumerate(range(0, height, block_size)):
        for bj, c in enumerate(range(0, width, block_size)):
            core = Window(r, c, min(block_size, height - r), min(block_size, width - c))
            read = core.expand(halo)
            if clip:
                read = read.intersection(tile)
            blocks.append(Block((bi, bj), core, read))
    return blocks


def crop_halo(array: npt.NDArray[np.generic], block: Block) -> npt.NDArray[np.generic]:
    """Cut the block's core out of an array computed on its read window (..., H, W)."""
    expected = (block.read.height, block.read.width)
    if tuple(array.shape[-2:]) != expected:
        raise GridError(f"array of shape {array.shape[-2:]} does not match read window {expected}")
    rows, cols = block.core_in_read.slices
    return array[..., rows, cols]
