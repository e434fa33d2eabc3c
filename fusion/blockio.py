"""Windowed, warped reads of scene assets onto the output grid, and block inputs for a model.

Pixels enter the pipeline here, one block at a time (DESIGN.md §3 ReadBlock): every band of a
scene is read through a ``WarpedVRT`` onto the block's window of the output grid - fine scenes
on the fine grid (nearest neighbour: Landsat is already on a 30 m UTM grid), coarse scenes on
the aligned coarse grid (area average). QA assets are decoded into a *usable* mask with the
sensor's decoder; stored values become reflectance with the scene's scale and offset.

Every failure to read an asset raises :class:`~fusion.errors.BlockReadError` naming the asset
href and the reason, which the pipeline turns into a dead-letter record.
"""

from __future__ import annotations

import functools
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.windows
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT

from fusion import sensors as S
from fusion.catalog import Scene
from fusion.errors import BlockReadError
from fusion.grid import Block, Tile, Window, fine_to_coarse_window
from fusion.remote import ensure_gdal_env, http_status
from fusion.sources import prepare_href

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class GridWindow:
    """A window of a grid: where to put read pixels (CRS, transform of the window, shape)."""

    crs: str
    transform: Affine
    height: int
    width: int

    @classmethod
    def of(cls, tile: Tile, window: Window, factor: int = 1) -> GridWindow:
        """``window`` (fine pixels of ``tile``) on the grid ``factor`` times coarser."""
        win = fine_to_coarse_window(window, factor) if factor > 1 else window
        base = tile.transform @ Affine.scale(factor)
        return cls(tile.grid.crs, base @ Affine.translation(win.col, win.row), win.height, win.width)


#: The query string of a signed URL (Azure SAS: ``?st=...&sig=...``).
_SIGNED_QUERY = re.compile(r"\?[^\s'\"]*sig=[^\s'\"]*")


def read_asset(
    href: str,
    grid: GridWindow,
    resampling: Resampling,
    expect_epsg: int | None = None,
    *,
    band: int = 1,
    nodata: float | None = None,
) -> tuple[npt.NDArray[Any], float | None]:
    """One band of an asset (the first unless ``band``) warped onto ``grid``: (array, nodata).
    Raises BlockReadError. ``nodata``: the value that marks missing pixels when the file
    states none (a user's ``--nodata``); the warper then leaves those pixels out of averages.

    Remote hrefs (https://, gs://, s3://) are read through GDAL's network drivers with the
    retrying configuration of :mod:`fusion.remote`; a read that still fails names the href and,
    for HTTP, the status the server gives."""
    ensure_gdal_env()
    target: str = href
    auth_options: dict[str, str] = {}
    try:
        # Sign (Planetary Computer) or authenticate (Earthdata) right before the read.
        target, auth_options = prepare_href(href)
        with rasterio.Env(**auth_options), rasterio.open(target) as src:
            if src.crs is None:
                raise BlockReadError(
                    f"{href}: the raster has no CRS; cannot place it on the output grid", href
                )
            if expect_epsg is not None and src.crs.to_epsg() not in (None, expect_epsg):
                raise BlockReadError(
                    f"{href}: raster CRS EPSG:{src.crs.to_epsg()} contradicts the item's proj:epsg "
                    f"{expect_epsg}; fix the item or the asset",
                    href,
                )
            if not 1 <= band <= src.count:
                raise BlockReadError(
                    f"{href}: has {src.count} band(s), no band {band}; fix the band list "
                    "(--bands) or the file",
                    href,
                )
            nodata = src.nodata if src.nodata is not None else nodata
            same_grid = _window_on_same_grid(src, grid)
            if same_grid is not None:
                # The output grid is the raster's own (Landsat on its UTM 30 m grid): a plain
                # windowed read gives the same pixels as the warp, without the warper.
                return src.read(band, window=same_grid), nodata
            with WarpedVRT(
                src,
                crs=grid.crs,
                transform=grid.transform,
                width=grid.width,
                height=grid.height,
                resampling=resampling,
                src_nodata=nodata,
                nodata=nodata,
                # (Nearly) the exact transformer: GDAL's default approximates it linearly to
                # 1/8 pixel over each output window, so a pixel warped as part of another
                # window (a block, a whole tile: SceneReadCache) came out different by up
                # to 0.003 reflectance. 0 is refused by the VRT's creation.
                tolerance=1e-6,
            ) as vrt:
                data = vrt.read(band)
    except BlockReadError:
        raise
    except (RasterioError, OSError) as exc:
        # Never let a signed URL (a SAS token is a credential) reach logs or dead letters.
        text = _SIGNED_QUERY.sub("?<signature removed>", _gdal_message(exc))
        # GDAL names the status it got ("HTTP response code: 404"); otherwise ask the server,
        # but only for a plain href: a HEAD without the signature or token would get an
        # answer (403, a login redirect) that has nothing to do with this failure.
        said = re.search(r"HTTP response code: (\d{3})", text)
        if said:
            status: int | None = int(said.group(1))
        else:
            status = http_status(href) if target == href and not auth_options else None
        http = f"HTTP {status}: " if status is not None and status >= 400 else ""
        if not http and _SHORT_READ.search(text):
            # Before the detail, and ending at ';', so a run summary groups such records.
            http = "file truncated or corrupt; "
        raise BlockReadError(f"{href}: {http}{type(exc).__name__}: {text}", href) from exc
    return data, nodata


#: What GDAL says when a file ends before the data its header points to (a cut copy or
#: download) or holds garbage where its header says data is.
_SHORT_READ = re.compile(
    r"Cannot read \d+ bytes at offset"
    r"|got \d+ bytes, expected \d+"
    r"|Failed to read directory"
    r"|TIFFRead\w*\(\) failed|TIFFFill\w*:|IReadBlock failed"
    r"|not recognized as being in a supported file format"
)


def _gdal_message(exc: BaseException) -> str:
    """What GDAL said about a failure: rasterio's "Read failed. See previous exception for
    details." carries the reason only in the chained exception (``Cannot read N bytes at
    offset M``, ``TIFFFillTile: Read error ...``), which a dead letter must show."""
    said = [str(exc)]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(said) < 8:
        text = str(cause)
        if text and text not in said:
            said.append(text)
        cause = cause.__cause__ or cause.__context__
    if len(said) > 1 and "See previous exception" in said[0]:
        said = said[1:]
    # GDAL chains general -> specific; the most specific (last) message names the bytes.
    return said[0] if len(said) == 1 else f"{said[0]} ({said[-1]})"


def _window_on_same_grid(src: Any, grid: GridWindow) -> rasterio.windows.Window | None:
    """``grid`` as a window of ``src`` when it is a whole-pixel window of the raster's own grid
    (same CRS, same north-up pixel size, integer offset) lying inside the raster; else None."""
    st, gt = src.transform, grid.transform
    if st.b or st.d or gt.b or gt.d or st.a != gt.a or st.e != gt.e:
        return None
    col, row = (gt.c - st.c) / st.a, (gt.f - st.f) / st.e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    col, row = round(col), round(row)
    if row < 0 or col < 0 or row + grid.height > src.height or col + grid.width > src.width:
        return None
    if src.crs != CRS.from_user_input(grid.crs):
        return None
    return rasterio.windows.Window(col, row, grid.width, grid.height)


@dataclass
class SceneBlock:
    """One scene on one grid window: reflectance (H, W, B) and the usable mask (H, W)."""

    reflectance: FloatArray
    usable: BoolArray

    @property
    def usable_fraction(self) -> float:
        return float(self.usable.mean()) if self.usable.size else 0.0


#: :attr:`Scene.qa_decoder` of a user's mask file: non-zero pixels are usable, zero and the
#: file's nodata are not (nor anything outside the file).
MASK_NONZERO = "nonzero"
#: :attr:`Scene.qa_decoder` of a file without a mask: usable wherever the image file has data.
MASK_FOOTPRINT = "footprint"


def read_footprint(href: str, grid: GridWindow) -> BoolArray:
    """Where the raster at ``href`` has data on ``grid``: inside the file and, when it states a
    nodata value, not nodata (GDAL's warped alpha band). Raises BlockReadError."""
    ensure_gdal_env()
    try:
        with rasterio.open(href) as src:
            if src.crs is None:
                raise BlockReadError(
                    f"{href}: the raster has no CRS; cannot place it on the output grid", href
                )
            with WarpedVRT(
                src,
                crs=grid.crs,
                transform=grid.transform,
                width=grid.width,
                height=grid.height,
                resampling=Resampling.nearest,
                src_nodata=src.nodata,
                add_alpha=True,
                tolerance=1e-6,
            ) as vrt:
                alpha = vrt.read(vrt.count)
    except BlockReadError:
        raise
    except (RasterioError, OSError) as exc:
        raise BlockReadError(f"{href}: {type(exc).__name__}: {_gdal_message(exc)}", href) from exc
    return np.asarray(alpha > 0, dtype=bool)


def read_usable_mask(scene: Scene, grid: GridWindow) -> BoolArray:
    """Clear, non-fill pixels from the scene's QA asset on ``grid`` (or, for a scene of a
    user's files, from its mask file or the image's own footprint: :attr:`Scene.qa_decoder`)."""
    if scene.qa_decoder == MASK_FOOTPRINT and scene.qa_href is not None:
        return read_footprint(scene.qa_href, grid)
    if scene.qa_decoder == MASK_NONZERO and scene.qa_href is not None:
        mask, mask_nodata = read_asset(scene.qa_href, grid, Resampling.nearest, scene.projection.epsg)
        usable = np.isfinite(mask) & (mask != 0)
        if mask_nodata is not None:
            usable &= mask != mask_nodata
        return np.asarray(usable, dtype=bool)
    sensor = S.get_sensor(scene.sensor)
    if scene.qa_href is None:
        raise BlockReadError(f"scene {scene.id}: no QA asset ({sensor.qa.asset_key}); cannot mask clouds")
    qa, qa_nodata = read_asset(scene.qa_href, grid, Resampling.nearest, scene.projection.epsg)
    masks = sensor.decode_qa(qa)
    usable = masks.clear & ~masks.fill
    if qa_nodata is not None:
        usable &= qa != qa_nodata
    return np.asarray(usable, dtype=bool)


@functools.cache
def _asset_pool() -> ThreadPoolExecutor:
    """Threads reading one scene's asset files at the same time (one pool per process)."""
    return ThreadPoolExecutor(
        max_workers=max(2, min(8, os.cpu_count() or 1)), thread_name_prefix="asset-read"
    )


#: Reflectance a stored value may stand for on a usable pixel: surface reflectance lies in about
#: [-0.2, 1.6] (sensor offsets, bright snow); beyond these the asset is not what the item says.
REFLECTANCE_BOUNDS = (-0.5, 2.0)
#: The share of a block's usable pixels that may lie outside :data:`REFLECTANCE_BOUNDS` (a few
#: saturated or overflowing pixels are the sensor's; more is a wrong scale or a wrong file).
MAX_OUT_OF_RANGE = 0.01


def _sensor_band(scene: Scene, band: str) -> S.Band | None:
    """The sensor table's entry of a scene's band, or None for a sensor eo-fusion has no table for."""
    try:
        return S.get_sensor(scene.sensor).band(band)
    except Exception:  # UnknownNameError: a foreign or ambiguous band - nothing to check against
        return None


def check_stored_type(scene: Scene, band: str, dn: npt.NDArray[Any]) -> None:
    """Refuse an asset whose values are not stored as the sensor stores them (e.g. a Landsat band
    saved as uint8: with the collection's scale and offset it would read as reflectance ~ -0.2,
    a plausible-looking but wrong product)."""
    entry = _sensor_band(scene, band)
    if entry is None:
        return
    expected = np.dtype(entry.data_type)
    if dn.dtype != expected:
        href = scene.bands[band]
        raise BlockReadError(
            f"{href}: band {band!r} of scene {scene.id} is stored as {dn.dtype}, but "
            f"{scene.sensor} stores {expected}: with the collection's scale and offset its values "
            "would not be reflectance; fix or re-export the asset",
            href,
        )


def check_reflectance_range(scene: Scene, band: str, refl: FloatArray, usable: BoolArray) -> None:
    """Refuse a band whose usable pixels are mostly not reflectance (wrong scale or offset in
    the item, a foreign file): more than :data:`MAX_OUT_OF_RANGE` of them outside
    :data:`REFLECTANCE_BOUNDS`."""
    n = int(usable.sum())
    if n == 0:
        return
    lo, hi = REFLECTANCE_BOUNDS
    values = refl[usable]
    outside = int(np.count_nonzero((values < lo) | (values > hi)))
    if outside > MAX_OUT_OF_RANGE * n:
        href = scene.bands[band]
        raise BlockReadError(
            f"{href}: {outside} of {n} usable pixels of band {band!r} of scene {scene.id} are outside "
            f"the reflectance range [{lo}, {hi}] (median {float(np.median(values)):.3g}): the item's "
            "scale/offset or the asset is wrong; fix the item or the asset",
            href,
        )


def read_scene(scene: Scene, bands: Sequence[str], grid: GridWindow, resampling: Resampling) -> SceneBlock:
    """Reflectance of ``bands`` (common names) and the usable mask of a scene on ``grid``."""
    missing = [b for b in bands if b not in scene.bands]
    if missing:
        raise BlockReadError(
            f"scene {scene.id} ({scene.collection}) has no asset for band(s) {missing}; "
            f"it has {sorted(scene.bands)}"
        )
    # The QA and band files are read side by side: for a small (coarse) grid a read is almost
    # all open and warper set-up, which GDAL does without holding the GIL.
    pool = _asset_pool()
    qa_read = pool.submit(read_usable_mask, scene, grid)
    band_reads = [
        pool.submit(
            read_asset,
            scene.bands[band],
            grid,
            resampling,
            scene.projection.epsg,
            # A user's file: the band of the common name, its nodata (also while warping).
            band=scene.band_index.get(band, 1),
            nodata=scene.nodata.get(band) if band in scene.band_index else None,
        )
        for band in bands
    ]
    usable = qa_read.result()
    layers = []
    for band, band_read in zip(bands, band_reads, strict=True):
        dn, file_nodata = band_read.result()
        check_stored_type(scene, band, dn)
        scale, offset = scene.scale_offset.get(band, (1.0, 0.0))
        nodata = scene.nodata.get(band, file_nodata)
        refl = dn.astype(np.float32) * np.float32(scale) + np.float32(offset)
        bad = ~np.isfinite(refl)
        if nodata is not None:
            bad |= dn == nodata
        check_reflectance_range(scene, band, refl, usable & ~bad)
        usable &= ~bad
        layers.append(refl)
    reflectance = np.stack(layers, axis=-1)
    reflectance[~usable] = np.nan
    return SceneBlock(reflectance, usable)


def tile_clear_fraction(scene: Scene, tile: Tile, factor: int) -> float:
    """Share of ``tile`` that is clear in ``scene``, from the QA read ``factor`` times coarser."""
    grid = GridWindow.of(tile, Window(0, 0, *tile.shape), factor)
    return float(read_usable_mask(scene, grid).mean())


class SceneReadCache:
    """What a task's block reader read, kept for the next blocks that need it (one per reader).

    * **Coarse scenes are read once per tile**, then cut for each block. A coarse pixel covers
      ``ratio x ratio`` fine pixels, so a MODIS block is a few hundred pixels and its read is
      almost all fixed cost (open, CRS transformer, warper set-up): read per block, the coarse
      scenes of the demo cost more than the model itself. A scene is warped once over the tile
      and its halo (every block's read window lies inside it); the entry is tiny (a
      4096-pixel tile at ratio 16 is 272 x 272 per band).
    * **Fine scenes are read once per tile too** where the tile and its halo take at most 1/8
      of ``max_bytes`` (a 512-pixel tile with a 64-pixel halo and six bands is 10 MiB), and
      kept per block otherwise. Read per block, every block re-opens the band files and
      decodes the COG tiles its window touches again; read per tile, each is decoded once.
      Neighbouring target dates share their reference pairs, so the same reference scene is
      used again by the next products.

    Entries are dropped least recently used first beyond ``max_bytes`` (128 MiB: a reader
    thread keeps one cache, and a Dataflow worker runs several threads; a 352 x 352 block of
    six bands is 3.4 MiB). A failed read is not
    cached: every block that needs the asset raises the same BlockReadError.
    """

    def __init__(self, max_bytes: int = 128 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[Any, ...], tuple[Window, SceneBlock]] = OrderedDict()
        self._bytes = 0
        self.reads = 0  #: scene reads done (tile-level for coarse scenes), for tests

    def _get(
        self, key: tuple[Any, ...], read: Callable[[], tuple[Window, SceneBlock]]
    ) -> tuple[Window, SceneBlock]:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry
        entry = read()
        self.reads += 1
        self._entries[key] = entry
        self._bytes += _nbytes(entry[1])
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= _nbytes(dropped[1])
        return entry

    def coarse(
        self, scene: Scene, bands: Sequence[str], tile: Tile, block: Block, ratio: int, resampling: Resampling
    ) -> SceneBlock:
        """``scene`` on ``block``'s read window of the grid ``ratio`` times coarser than ``tile``."""
        return self._from_tile("coarse", scene, bands, tile, block, ratio, resampling)

    def fine(
        self, scene: Scene, bands: Sequence[str], tile: Tile, block: Block, resampling: Resampling
    ) -> SceneBlock:
        """``scene`` on ``block``'s read window of ``tile``'s grid."""
        if self.fine_per_tile(tile, block, len(bands)):
            return self._from_tile("fine", scene, bands, tile, block, 1, resampling)
        key = ("fine", *_scene_key(scene, bands), tile.id, block.read, resampling)
        _, got = self._get(
            key, lambda: (block.read, read_scene(scene, bands, GridWindow.of(tile, block.read), resampling))
        )
        return SceneBlock(got.reflectance.copy(), got.usable.copy())

    def fine_per_tile(self, tile: Tile, block: Block, bands: int) -> bool:
        """Whether fine scenes of ``tile`` are read once per tile (else once per block)."""
        halo = block.core.row - block.read.row
        tile_bytes = (tile.shape[0] + 2 * halo) * (tile.shape[1] + 2 * halo) * (4 * bands + 1)
        return tile_bytes <= self.max_bytes // 8

    def _from_tile(
        self,
        kind: str,
        scene: Scene,
        bands: Sequence[str],
        tile: Tile,
        block: Block,
        ratio: int,
        resampling: Resampling,
    ) -> SceneBlock:
        """``block``'s read window cut from ``scene`` read once over the tile and its halo (every
        block's read window lies inside it), on the grid ``ratio`` times coarser than ``tile``."""
        halo = block.core.row - block.read.row
        extent = Window(-halo, -halo, tile.shape[0] + 2 * halo, tile.shape[1] + 2 * halo)
        key = (kind, *_scene_key(scene, bands), tile.id, extent, ratio, resampling)
        grid_window, whole = self._get(
            key,
            lambda: (
                fine_to_coarse_window(extent, ratio),
                read_scene(scene, bands, GridWindow.of(tile, extent, ratio), resampling),
            ),
        )
        want = fine_to_coarse_window(block.read, ratio).translate(-grid_window.row, -grid_window.col)
        rows, cols = want.slices
        return SceneBlock(whole.reflectance[rows, cols].copy(), whole.usable[rows, cols].copy())


def _scene_key(scene: Scene, bands: Sequence[str]) -> tuple[Any, ...]:
    """What identifies a scene read: its id and the very files read (two Scene objects with one
    id but another asset, e.g. a replaced or broken file, are not the same read)."""
    return (scene.id, scene.collection, tuple(bands), tuple(scene.bands.get(b) for b in bands), scene.qa_href)


def _nbytes(block: SceneBlock) -> int:
    return int(block.reflectance.nbytes + block.usable.nbytes)


def fill_invalid(values: FloatArray) -> FloatArray:
    """Replace NaN by the band's mean of valid pixels (0 where a band has none)."""
    out = values.copy()
    for b in range(out.shape[-1]):
        layer = out[..., b]
        bad = ~np.isfinite(layer)
        if bad.any():
            layer[bad] = float(np.nanmean(layer)) if (~bad).any() else 0.0
    return out


def upsample_mask(mask: BoolArray, factor: int) -> BoolArray:
    """Each coarse pixel of ``mask`` repeated ``factor`` x ``factor`` times on the fine grid."""
    return np.repeat(np.repeat(mask, factor, axis=0), factor, axis=1) if factor > 1 else mask


@dataclass
class BlockInputs:
    """Everything a model needs for one block, and where its output goes."""

    product_id: str
    block: Block
    n_blocks: int
    arrays: dict[str, FloatArray]  #: input name -> (H, W, C) float32, no NaN
    output_valid: BoolArray  #: (H, W) on the read window: where the fused output is meaningful
    bytes_read: int = 0
    notes: dict[str, float] = field(default_factory=dict)

    @property
    def shape_key(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return tuple(sorted((k, v.shape) for k, v in self.arrays.items()))


def stack_batch(blocks: Sequence[BlockInputs]) -> Mapping[str, FloatArray]:
    """Stack blocks of equal shapes into NHWC batches by input name."""
    names = blocks[0].arrays.keys()
    return {name: np.stack([b.arrays[name] for b in blocks]) for name in names}
