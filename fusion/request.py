"""FusionRequest: what to fuse, where, with which model, and where to put the results.

A request comes from CLI flags or from a YAML/JSON file (same field names); unknown fields
are refused with the list of known ones. It is small and serialisable, so it travels to
Beam workers as is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pystac
import yaml
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from fusion.catalog import (
    DroppedItem,
    Scene,
    SearchRequest,
    as_utc_range,
    licensing_of,
    load_catalog,
    parse_aoi,
    reproject_geometry,
    search_static_catalog,
)
from fusion.errors import ConfigError, FusionError
from fusion.grid import GridSpec, Tile, utm_grid, utm_tile_epsg
from fusion.pairing import PairingConfig
from fusion.rasterio_io import COG_PROFILES
from fusion.request_options import RELATIVE_PERIOD_FIELDS, parse_date
from fusion.sources import SOURCES, check_credentials
from fusion.tasks import DEFAULT_TASK, FusionTask, get_task

log = logging.getLogger("eo-fusion")

#: The years a request's period may lie in (a date outside them is a typo, not imagery).
MIN_YEAR, MAX_YEAR = 1950, 2199
#: The largest tile (and block) in pixels: one 8192 px tile of 8 int16 bands is 1 GB.
MAX_TILE_SIZE = 8192

#: Request-file fields of earlier versions, accepted as aliases of ``collections: {role: id}``.
COLLECTION_ALIASES = {
    "fine_collection": "fine",
    "coarse_collection": "coarse",
    "source_collection": "source",
}


@dataclass(frozen=True)
class FusionRequest:
    """One fusion run. Dates are inclusive; ``start``/``end`` bound the *target* dates."""

    catalog: str  #: static STAC catalog (folder or catalog.json)
    output: str  #: output folder: a self-contained STAC catalog of products
    start: dt.date
    end: dt.date
    aoi: str | None = None  #: "minx,miny,maxx,maxy" (WGS 84) or a GeoJSON file; None = all scenes
    tiles: tuple[str, ...] | None = None  #: grid tile ids to produce; None = every tile of the AOI
    task: str = DEFAULT_TASK  #: a registered task id (``fusion.tasks.list_tasks()``)
    #: input role -> collection id; roles not given take the task's default collections
    collections: Mapping[str, str] = field(default_factory=dict)
    model: str = ""  #: built-in name or package folder; "" = the task's default model
    epsg: int | None = None  #: output UTM CRS; None = the fine scenes' CRS
    resolution: float = 30.0  #: output pixel size in metres (the fine sensor's: Landsat 30)
    tile_size: int = 1024
    block_size: int = 512
    #: product COG compression, a profile of fusion.rasterio_io.COG_PROFILES (zstd, deflate, ...)
    cog_profile: str = "zstd"
    #: how targets are paired with references (the pairing fields below)
    pairing: PairingConfig = field(default_factory=PairingConfig)
    #: also publish the products (collection + items) to this STAC API (Transactions extension)
    stac_api: str | None = None

    def __post_init__(self) -> None:
        for name in ("catalog", "output"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(
                    f"{name} {value!r} is empty; give a folder, a catalog.json path or a URL"
                    if name == "catalog"
                    else f"output {value!r} is empty; give a folder or a gs://BUCKET/PATH prefix"
                )
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, dt.date) or not MIN_YEAR <= value.year <= MAX_YEAR:
                raise ConfigError(
                    f"{name} {value} is outside the years {MIN_YEAR}-{MAX_YEAR} eo-fusion handles; "
                    "write a date of the imagery's period as YYYY-MM-DD"
                )
        if self.end < self.start:
            raise ConfigError(f"end {self.end} is before start {self.start}; swap them")
        for name, largest in (("tile_size", MAX_TILE_SIZE), ("block_size", MAX_TILE_SIZE)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} {value!r} must be a whole number of pixels, e.g. {name}: 512")
            if not 0 < value <= largest:
                raise ConfigError(
                    f"{name} {value} must be between 1 and {largest} pixels (a larger tile is one "
                    "product of more than 4 GB in memory); use several tiles instead"
                )
        if (
            isinstance(self.resolution, bool)
            or not isinstance(self.resolution, (int, float))
            or not (0 < self.resolution < 100_000)
        ):
            raise ConfigError(
                f"resolution {self.resolution!r} must be a positive pixel size in metres, e.g. 30"
            )
        if self.epsg is not None:
            if isinstance(self.epsg, bool) or not isinstance(self.epsg, int):
                raise ConfigError(f"epsg {self.epsg!r} must be an EPSG code (a whole number), e.g. 32614")
            utm_grid(self.epsg)  # a UTM zone, or the error that says which codes are
        if self.tiles is not None:
            if not self.tiles:
                raise ConfigError("tiles is an empty list; leave it out to produce every tile of the AOI")
            object.__setattr__(self, "tiles", tuple(dict.fromkeys(self.tiles)))  # a tile once
            for tile_id in self.tiles:
                epsg = utm_tile_epsg(tile_id)
                if self.epsg is not None and epsg != self.epsg:
                    raise ConfigError(
                        f"tile {tile_id} lies in UTM zone EPSG:{epsg}, but the request's epsg is "
                        f"{self.epsg}; give tiles of that zone or drop epsg"
                    )
        if not isinstance(self.pairing, PairingConfig):
            raise ConfigError(f"pairing {self.pairing!r} must be a mapping of pairing fields")
        if self.stac_api is not None and (
            not isinstance(self.stac_api, str) or not self.stac_api.startswith(("http://", "https://"))
        ):
            raise ConfigError(f"stac_api {self.stac_api!r} must be the http(s):// URL of a STAC API")
        if self.cog_profile not in COG_PROFILES:
            raise ConfigError(f"cog_profile {self.cog_profile!r}: choose one of {sorted(COG_PROFILES)}")
        task = self.fusion_task
        defaults = task.default_collections()
        unknown = sorted(set(self.collections) - set(defaults))
        if unknown:
            raise ConfigError(
                f"collections for role(s) {unknown}: a {task.name} request's roles are {sorted(defaults)}"
            )
        object.__setattr__(self, "collections", {**defaults, **dict(self.collections)})
        if not self.model:
            object.__setattr__(self, "model", task.default_model)
        parse_aoi(self.aoi)  # fail early on a bad AOI

    @property
    def fusion_task(self) -> FusionTask:
        """The registered task of this request (refuses an unknown task id)."""
        try:
            return get_task(self.task)
        except FusionError as exc:
            raise ConfigError(str(exc)) from exc

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], base: Path | None = None, today: dt.date | None = None
    ) -> FusionRequest:
        """Build a request from plain fields. A relative period (``last_days``, optionally
        ``lag_days``) instead of ``start``/``end`` is resolved against ``today`` (UTC) here, at
        launch, so a scheduled job with a fixed body processes a rolling window."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known - set(RELATIVE_PERIOD_FIELDS) - set(COLLECTION_ALIASES))
        if unknown:
            raise ConfigError(
                f"unknown request field(s) {unknown}; known fields are "
                f"{sorted(known | set(RELATIVE_PERIOD_FIELDS))}"
            )
        kwargs = dict(data)
        kwargs["collections"] = collections_field(kwargs)
        last_days = kwargs.pop("last_days", None)
        lag_days = kwargs.pop("lag_days", None)
        if last_days is not None:
            if kwargs.get("start") is not None or kwargs.get("end") is not None:
                raise ConfigError(
                    "give either start/end or last_days (a rolling period), not both; "
                    "drop start/end to process the last N days"
                )
            kwargs["start"], kwargs["end"] = relative_period(last_days, lag_days or 0, today)
        elif lag_days is not None:
            raise ConfigError("lag_days only applies with last_days")
        for key in ("start", "end"):
            if key not in kwargs:
                raise ConfigError(f"request needs {key!r} (YYYY-MM-DD)")
            kwargs[key] = parse_date(kwargs[key], key)
        if kwargs.get("tiles") is not None:
            kwargs["tiles"] = tiles_field(kwargs["tiles"])
        pairing = kwargs.get("pairing") or {}
        if isinstance(pairing, PairingConfig):
            pass
        elif isinstance(pairing, Mapping):
            pknown = {f.name for f in dataclasses.fields(PairingConfig)}
            bad = sorted(set(pairing) - pknown)
            if bad:
                raise ConfigError(f"unknown pairing field(s) {bad}; known are {sorted(pknown)}")
            kwargs["pairing"] = PairingConfig(**pairing)
        else:
            raise ConfigError(
                f"pairing {pairing!r} must be a mapping of pairing fields, e.g. "
                "pairing: {max_gap_days: 64, max_pairs: 2}"
            )
        for key in ("catalog", "output"):
            if kwargs.get(key) is None:
                raise ConfigError(f"request needs {key!r} (a folder, a catalog.json path or a URL)")
            if not isinstance(kwargs[key], str):
                raise ConfigError(f"{key} {kwargs[key]!r} must be a path or URL (text)")
        kwargs["catalog"] = catalog_url(kwargs["catalog"])
        for key in ("catalog", "output"):
            if base is not None and "://" not in str(kwargs[key]) and str(kwargs[key]).strip():
                kwargs[key] = str((base / str(kwargs[key])).resolve())
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], today: dt.date | None = None) -> FusionRequest:
        return cls.from_mapping(request_fields_from_file(path), today=today)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        out["tiles"] = list(self.tiles) if self.tiles is not None else None
        return out

    # ---------------------------------------------------------------- derived

    def search_request(self, with_targets: bool = False) -> SearchRequest:
        """The task's search window around the target period (e.g. spatiotemporal references
        may lie up to the maximum gap outside it) in the collections of the task's searched
        roles (``with_targets``: also the roles of the observed targets, for training and
        scoring)."""
        task = self.fusion_task
        first, last = task.search_period(self.start, self.end, self.pairing, with_targets)
        start, end = as_utc_range(first, last)
        collections = tuple(self.collections[r.name] for r in task.searched_roles(with_targets))
        return SearchRequest(aoi=parse_aoi(self.aoi), start=start, end=end, collections=collections)

    def grid(self, fine_scenes: list[Scene]) -> GridSpec:
        epsg = self.epsg
        if epsg is None:
            codes = sorted({s.projection.epsg for s in fine_scenes if s.projection.epsg is not None})
            if not codes:
                raise ConfigError("cannot choose the output CRS: no fine scene states proj:epsg; set `epsg`")
            epsg = codes[0]
        return utm_grid(epsg, self.resolution, self.tile_size)

    def output_tiles(self, grid: GridSpec, fine_scenes: list[Scene]) -> list[Tile]:
        """Grid tiles covering the AOI (or, without one, the fine scenes' footprints), or the
        request's explicit ``tiles``."""
        if self.tiles is not None:
            return [grid.tile_by_id(t) for t in self.tiles]
        aoi: BaseGeometry | None = parse_aoi(self.aoi)
        if aoi is None:
            if not fine_scenes:
                return []
            xs = [v for s in fine_scenes for v in (s.bbox[0], s.bbox[2])]
            ys = [v for s in fine_scenes for v in (s.bbox[1], s.bbox[3])]
            aoi = box(min(xs), min(ys), max(xs), max(ys))
        local = reproject_geometry(aoi.segmentize(0.01), "EPSG:4326", grid.crs)
        return [t for t in grid.tiles_for_bounds(local.bounds) if box(*t.bounds).intersection(local).area > 0]


def tiles_field(value: Any) -> tuple[str, ...]:
    """``tiles`` of a request: a list of tile ids, or one text of comma-separated ids (a request
    file's ``tiles: 14N-0040-0376``); a tile given twice is kept once, in the first place."""
    if isinstance(value, str):
        ids = [t.strip() for t in value.split(",") if t.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(t, str) for t in value):
        ids = [t.strip() for t in value]
    else:
        raise ConfigError(f"tiles {value!r} must be a list of tile ids, e.g. [14N-0040-0376]")
    return tuple(dict.fromkeys(ids))


def collections_field(fields: dict[str, Any]) -> dict[str, str]:
    """``collections`` of request ``fields``, with the old ``fine_collection``-style aliases
    popped from ``fields`` and merged in (an alias and an explicit role may not disagree)."""
    given = fields.get("collections") or {}
    if not isinstance(given, Mapping):
        raise ConfigError(
            f"collections {given!r} must map input roles to collection ids, e.g. "
            "{fine: landsat-c2-l2, coarse: modis-09A1-061}"
        )
    out = {str(k): str(v) for k, v in given.items()}
    for alias, role in COLLECTION_ALIASES.items():
        value = fields.pop(alias, None)
        if value is None:
            continue
        if out.get(role, value) != value:
            raise ConfigError(f"{alias} {value!r} contradicts collections.{role} {out[role]!r}; give one")
        out[role] = str(value)
    return out


class _TextDateLoader(yaml.SafeLoader):
    """YAML's safe loader without timestamps: ``start: 2023-02-30`` stays the text it is, so the
    request names the field instead of PyYAML failing on the impossible date."""


_TextDateLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_request_text(text: str, name: str) -> dict[str, Any]:
    """Fields of a YAML or JSON request document (``name`` only chooses the parser and
    names the document in errors)."""
    is_json = name.endswith(".json")
    try:
        # Dates stay text (parse_date names the field of a date like 2023-02-30).
        data = json.loads(text) if is_json else yaml.load(text, Loader=_TextDateLoader)  # noqa: S506
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"request file {name} is not valid {'JSON' if is_json else 'YAML'}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"request file {name} must hold a mapping of request fields")
    return dict(data)


def request_fields_from_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Fields of a local request file, ``catalog``/``output`` resolved against its folder."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"request file {p} does not exist")
    data = parse_request_text(p.read_text(), str(p))
    if isinstance(data.get("catalog"), str):
        data["catalog"] = catalog_url(data["catalog"])
    for key in ("catalog", "output"):
        if isinstance(data.get(key), str) and data[key].strip() and "://" not in data[key]:
            data[key] = str((p.parent.resolve() / data[key]).resolve())
    return data


def relative_period(
    last_days: Any, lag_days: Any = 0, today: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """``(start, end)`` of "the last ``last_days`` days, ending ``lag_days`` before today (UTC)".

    ``last_days=16, lag_days=0`` on 2024-03-20 gives 2024-03-05 .. 2024-03-20 (16 dates). A lag
    leaves time for late-published inputs (e.g. MODIS composites appear days after their period).
    """
    try:
        n, lag = int(last_days), int(lag_days)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"last_days {last_days!r} / lag_days {lag_days!r} must be whole numbers of days"
        ) from exc
    if n < 1:
        raise ConfigError(f"last_days {n} must be at least 1")
    if lag < 0:
        raise ConfigError(f"lag_days {lag} must not be negative")
    today = today or dt.datetime.now(dt.UTC).date()
    end = today - dt.timedelta(days=lag)
    return end - dt.timedelta(days=n - 1), end


def catalog_url(catalog: Any) -> str:
    """The STAC API URL of a named source (``planetary-computer``, ``earth-search``,
    ``cmr-stac``; ``fusion search --source``), else ``catalog`` unchanged."""
    text = str(catalog)
    return SOURCES[text].url if text in SOURCES else text


def check_catalog(catalog: str) -> None:
    """Refuse, before a pipeline is built, a local catalog whose root cannot serve a search: a
    path that does not exist, a root document that is not JSON, not a JSON object, or a STAC
    Item rather than a catalog or collection. A URL is checked by the search itself (after the
    source's credentials, and without a request here that the search repeats)."""
    if "://" in catalog and not catalog.startswith("file://"):
        return
    path = Path(catalog.removeprefix("file://"))
    root = path / "catalog.json" if path.is_dir() else path
    if not root.is_file() or root.suffix != ".json":
        raise ConfigError(
            f"catalog {catalog!r} is neither a named source ({', '.join(sorted(SOURCES))}), a URL nor a "
            "static STAC catalog (a folder with catalog.json, or its path); `fusion simulate --out DIR` "
            "writes one"
        )
    try:
        data = json.loads(root.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"catalog {root} is not JSON ({exc}); give the catalog.json of a STAC catalog"
        ) from exc
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in ("Catalog", "Collection"):
        what = (
            "a STAC Item (a GeoJSON Feature)"
            if kind == "Feature"
            else f"a STAC {kind}"
            if kind
            else f"a JSON {type(data).__name__}"
            if not isinstance(data, dict)
            else "JSON without a STAC type"
        )
        raise ConfigError(
            f"catalog {root} is {what}, not a STAC Catalog or Collection; give the catalog.json "
            "at the root of the catalog (`fusion simulate --out DIR` writes one)"
        )


def _local_folder(location: str) -> Path | None:
    """A local path as an absolute, resolved folder path (None for URLs)."""
    if "://" in location and not location.startswith("file://"):
        return None
    return Path(location.removeprefix("file://")).expanduser().resolve()


def check_output(request: FusionRequest, probe: bool = True) -> None:
    """Refuse, before anything is read, an output the run cannot or must not write: one that
    is the input catalog's folder, lies inside it or holds it (products would overwrite or mix
    with the scenes), an existing file, a system folder; and, with ``probe``, one where a probe
    file cannot be created and removed (read-only, no permission, no such bucket)."""
    output = request.output
    out_dir = _local_folder(output)

    def folder_key(location: str) -> str:
        """The folder of a location (a catalog.json's folder), as text ending in '/'."""
        local = _local_folder(location)
        text = local.as_posix() if local is not None else location.rstrip("/")
        return (text.rsplit("/", 1)[0] if text.endswith(".json") else text) + "/"

    out_key, cat_key = folder_key(output), folder_key(request.catalog)
    if out_key.startswith(cat_key) or cat_key.startswith(out_key):
        raise ConfigError(
            f"output {output} and the input catalog {request.catalog} overlap (one holds the other): "
            "products would overwrite or mix with the input scenes; choose an output folder "
            "outside the catalog, e.g. a sibling folder"
        )
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"output {output} is an existing file, not a folder; give a folder path")
        if any(out_dir == Path(p) or Path(p) in out_dir.parents for p in ("/proc", "/sys", "/dev")):
            raise ConfigError(f"output {output} is in a system folder; give a folder of your own")
    if probe:
        probe_writable(output, "output")


def probe_writable(location: str, what: str) -> None:
    """Create and remove a small probe object under the folder or ``gs://`` prefix ``location``
    (creating the folder); a ConfigError names ``what`` and the cause when that fails."""
    import uuid

    from fusion import storage

    probe = storage.join(location, f".eo-fusion-write-probe-{uuid.uuid4().hex[:12]}")
    created: list[Path] = []  # local folders the probe makes: removed again (a refused run leaves none)
    if not storage.is_remote(location):
        folder = Path(location).absolute()
        while not folder.exists() and folder != folder.parent:
            created.append(folder)
            folder = folder.parent
    try:
        storage.write_bytes(probe, b"probe")
        storage.delete(probe)
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
    except FusionError:
        raise
    except Exception as exc:  # OSError, google.api_core errors: name the place and the cause
        raise ConfigError(
            f"{what} {location} is not writable ({type(exc).__name__}: {exc}); choose a folder or "
            "bucket you can write to"
        ) from exc


def check_request_credentials(request: FusionRequest) -> None:
    """Fail before building a pipeline when the request's source needs a credential that is
    missing (e.g. Earthdata Login for cmr-stac)."""
    from fusion.sources import (
        check_source_collections,
        earthdata_gdal_options,
        requester_pays_gdal_options,
        source_for_catalog,
    )

    source = source_for_catalog(request.catalog)
    if source is None:
        return
    # the roles a run reads (a harmonize run reads no Landsat; training and scoring do)
    searched = {r.name: request.collections[r.name] for r in request.fusion_task.searched_roles()}
    if source.auth == "earthdata":
        earthdata_gdal_options()
    check_source_collections(source, searched, request.task)
    if source.name == "earth-search" and "landsat-c2-l2" in searched.values():
        requester_pays_gdal_options()  # its Landsat assets are all in s3://usgs-landsat


def is_stac_api(catalog: str) -> bool:
    """Whether ``catalog`` is a STAC API (its landing page conforms to item search) rather than
    a static catalog. Only http(s) URLs that do not name a .json file are asked (with the
    bearer token of ``EO_FUSION_STAC_API_TOKEN``; HTTP 401/403 raise AuthenticationError)."""
    if not catalog.startswith(("http://", "https://")) or catalog.endswith(".json"):
        return False
    from fusion.stacapi import landing_page

    landing = landing_page(catalog)
    return landing is not None and any("item-search" in str(c) for c in landing.get("conformsTo", []))


@dataclass(frozen=True)
class SceneOnTile:
    tile: Tile
    scene: Scene
    role: str
    #: share of the tile inside the scene's footprint (its STAC geometry), 0..1
    coverage: float = 1.0


def search_scenes(
    request: FusionRequest, with_targets: bool = False, dropped: list[DroppedItem] | None = None
) -> list[SceneOnTile]:
    """Search the catalog; every scene on every output tile its footprint intersects, with
    the role of the task its collection serves (``with_targets``: also the target-only roles,
    e.g. the Landsat scenes for training and scoring a harmonize model).

    Items that cannot be used (a null or unreadable datetime, a file that is not a JSON
    object, ...) are left out and appended to ``dropped`` with the reason (the pipeline's
    dead letters); without that list they are logged as warnings."""
    search = request.search_request(with_targets)
    found: list[DroppedItem] = []
    if is_stac_api(request.catalog):
        from fusion.stacapi import search_api

        result = search_api(request.catalog, search)
        scenes, found = result.scenes, result.dropped
    else:
        scenes = search_static_catalog(request.catalog, search, found)
    if dropped is not None:
        dropped.extend(found)
    else:
        for item in found:
            log.warning("search skipped item %s", item.text())
    roles = request.fusion_task.searched_roles(with_targets)
    groups = [(r.name, [s for s in scenes if s.collection == request.collections[r.name]]) for r in roles]
    grid_scenes = [s for r, (_, g) in zip(roles, groups, strict=True) if r.defines_grid for s in g]
    # A missing credential stops the run here, before any pixel is read.
    check_credentials([h for _, g in groups for s in g for h in (*s.bands.values(), s.qa_href) if h])
    if not all(g for _, g in groups):
        return []
    grid = request.grid(grid_scenes)
    tiles = request.output_tiles(grid, grid_scenes)
    footprints = {
        (s.collection, s.id): reproject_geometry(shape(s.geometry).segmentize(0.01), "EPSG:4326", grid.crs)
        for _, group in groups
        for s in group
    }
    check_requested_tiles(request, grid, tiles, list(footprints.values()))
    out = []
    for role, group in groups:
        for scene in group:
            footprint = footprints[(scene.collection, scene.id)]
            for tile in tiles:
                area = box(*tile.bounds)
                if footprint.intersects(area):
                    coverage = footprint.intersection(area).area / area.area
                    out.append(SceneOnTile(tile, scene, role, min(1.0, coverage)))
    return out


#: Tile sizes a refused tile id is tried at, besides powers of two times the request's.
COMMON_TILE_SIZES = (256, 512, 1024, 2048, 3660, 4096)


def check_requested_tiles(
    request: FusionRequest, grid: GridSpec, tiles: list[Tile], footprints: list[BaseGeometry]
) -> None:
    """Refuse a requested tile (``tiles``) that lies outside the request's AOI or, without one,
    outside every scene found (``footprints``, in the grid CRS). A tile id names a different
    place at every tile size (``GRID-COL-ROW`` counts tiles of ``tile_size`` pixels), so such a
    tile is nearly always an id of another tile size; the message says which size it fits and
    which tiles the area has at this one. Product ids and paths are unchanged."""
    if request.tiles is None or not footprints:
        return
    aoi = parse_aoi(request.aoi)
    if aoi is not None:
        area = reproject_geometry(aoi.segmentize(0.01), "EPSG:4326", grid.crs)
        what = "the --aoi"
    else:
        area = unary_union(footprints)
        what = "the scenes found"

    def inside(tile: Tile) -> bool:
        return bool(box(*tile.bounds).intersection(area).area > 0)

    if area.is_empty:
        return
    outside = [t for t in tiles if not inside(t)]
    if not outside:
        return
    tile = outside[0]
    size = grid.tile_size
    sizes = sorted(
        {s for s in (*COMMON_TILE_SIZES, *(size * 2**k for k in range(1, 4))) if s != size}
        | {size // 2**k for k in range(1, 5) if size % 2**k == 0 and size // 2**k >= 16}
    )
    fits = [s for s in sizes if inside(dataclasses.replace(grid, tile_size=s).tile(tile.col, tile.row))]
    minx, miny, maxx, maxy = area.bounds
    span = ((maxx - minx) / grid.tile_extent + 2) * ((maxy - miny) / grid.tile_extent + 2)
    here = [t.id for t in grid.tiles_for_bounds(area.bounds) if inside(t)] if span < 10_000 else []
    listed = ", ".join(here[:6]) + (f" and {len(here) - 6} more" if len(here) > 6 else "")
    listed = listed or "thousands of tiles"
    fit = f"{tile.id} is inside {what} at --tile-size {' or '.join(str(s) for s in fits)}; " if fits else ""
    raise ConfigError(
        f"tile {tile.id} at --tile-size {size} lies outside {what}. Tile ids depend on --tile-size "
        f"(GRID-COL-ROW counts tiles of that many pixels): {fit}at --tile-size {size} {what} lie "
        f"on {listed}. Give tile ids of --tile-size {size}, or the --tile-size the ids were made with"
    )


def input_licensing(catalog: str, collection_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per input collection id: its licence, providers and licence links, read from the
    collection documents of ``catalog`` (a static catalog or a STAC API). A collection that
    cannot be read is left out (the products then name only eo-fusion as provider); this never
    stops a run."""
    wanted = set(collection_ids)
    out: dict[str, dict[str, Any]] = {}
    try:
        if is_stac_api(catalog):
            from fusion.stacapi import open_api

            client = open_api(catalog)
            for cid in sorted(wanted):
                coll = client.get_collection(cid)
                out[cid] = licensing_of(coll.to_dict(include_self_link=False, transform_hrefs=False))
        else:
            for coll in load_catalog(catalog).get_children():
                if isinstance(coll, pystac.Collection) and coll.id in wanted:
                    out[coll.id] = licensing_of(coll.to_dict(include_self_link=False, transform_hrefs=False))
    except Exception as exc:  # attribution is best effort: the products are already written
        log.warning("could not read the input collections' licences: %s", exc)
    return out
