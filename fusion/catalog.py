"""Scenes, search over a static catalog, and the STAC helpers the catalog writers share.

:class:`Scene` is the contract between search and the rest of the pipeline (DESIGN.md §4):
everything after SearchScenes sees scenes, never STAC items. :func:`scene_from_item` is the
per-collection adapter (asset keys from the sensor tables, scale/offset from ``raster:bands``
with the sensor table and the Sentinel-2 baseline rule as fall-back).

:func:`search_static_catalog` filters a local catalog by AOI, period, collections and maximum
cloud cover with the semantics of a STAC API ``/search`` (``intersects``, ``datetime``
interval overlap, ``eo:cloud_cover <= max``, items without cloud cover excluded when a
maximum is given), so a STAC API source can later implement the same interface.

The footprint helpers, extension URLs and COG media type at the end are shared by the
writers of static catalogs (the scene simulator's and :mod:`fusion.publish`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import shapely
from pyproj import Transformer
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry

from fusion import sensors as S
from fusion.errors import CatalogError, ConfigError, FusionError, SceneNotFound

log = logging.getLogger("eo-fusion")

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
STAC_EXTENSIONS = {
    "eo": "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    # Scenes mirror the real catalogs' items (Planetary Computer: proj:epsg, projection v1.1);
    # products use projection v2 (proj:code), the current version.
    "proj": "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "proj-v2": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "view": "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "processing": "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "file": "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "grid": "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
    "mlm": "https://stac-extensions.github.io/mlm/v1.4.0/schema.json",
}


# --------------------------------------------------------------------------------------------
# Scene


@dataclass(frozen=True)
class Projection:
    epsg: int | None
    wkt2: str | None
    transform: tuple[float, ...] | None
    shape: tuple[int, int] | None

    @property
    def crs(self) -> str:
        if self.epsg is not None:
            return f"EPSG:{self.epsg}"
        if self.wkt2:
            return self.wkt2
        raise CatalogError("scene has neither proj:epsg nor proj:wkt2; cannot place its pixels")


@dataclass(frozen=True)
class Scene:
    """One acquisition, as the pipeline needs it. Hrefs are absolute (paths or URLs)."""

    id: str
    collection: str
    sensor: str
    datetime: dt.datetime  #: acquisition time; for composites the period start
    start_datetime: dt.datetime
    end_datetime: dt.datetime
    bbox: tuple[float, float, float, float]  #: WGS 84
    geometry: dict[str, Any]  #: GeoJSON, WGS 84
    cloud_cover: float | None
    bands: dict[str, str]  #: STAC common name -> href
    qa_href: str | None
    scale_offset: dict[str, tuple[float, float]]  #: common name -> (scale, offset)
    nodata: dict[str, float | None]
    projection: Projection
    item_href: str | None = None
    properties: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: Scenes made from a user's own files (:mod:`fusion.files`): the 1-based band of each
    #: common name in its (multi-band) file, and that the scene's ``nodata`` also applies while
    #: warping. Empty for catalog scenes, whose assets hold one band each.
    band_index: dict[str, int] = field(default_factory=dict)
    #: How ``qa_href`` becomes the usable mask when it is not the sensor's QA asset:
    #: :data:`fusion.blockio.MASK_NONZERO` (a user's mask file, non-zero = usable) or
    #: :data:`fusion.blockio.MASK_FOOTPRINT` (the image file itself: usable where it has data).
    #: None: the sensor table's QA decoder.
    qa_decoder: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = {
            "id": self.id,
            "collection": self.collection,
            "sensor": self.sensor,
            "datetime": self.datetime.isoformat(),
            "start_datetime": self.start_datetime.isoformat(),
            "end_datetime": self.end_datetime.isoformat(),
            "bbox": list(self.bbox),
            "cloud_cover": self.cloud_cover,
            "bands": self.bands,
            "qa_href": self.qa_href,
            "item_href": self.item_href,
        }
        return d


def _parse_dt(value: Any, name: str = "datetime") -> dt.datetime | None:
    """An item's date-time property ``name`` as an aware datetime **in UTC** (None for null).

    Every date eo-fusion derives from a scene (pairing dates, product ids, the products'
    datetimes) is the UTC date of this instant: ``2023-06-10T07:02:11+14:00`` is
    2023-06-09 17:02:11 UTC, so its date is 2023-06-09, never the local 06-10. A time without
    an offset is taken as UTC (STAC requires one; some catalogs leave it out). Anything that is
    not an RFC 3339 / ISO 8601 date-time raises :class:`CatalogError` naming the value.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise CatalogError(
            f"{name} {value!r} is a JSON {_json_kind(value)}, not an RFC 3339 date-time text "
            "such as 2023-06-10T17:02:11Z"
        )
    try:
        out = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise CatalogError(
            f"{name} {value!r} is not an RFC 3339 date-time such as 2023-06-10T17:02:11Z"
        ) from None
    # astimezone, not replace: an offset shifts the instant into UTC (and maybe the day).
    return out.astimezone(dt.UTC) if out.tzinfo else out.replace(tzinfo=dt.UTC)


def _json_kind(value: Any) -> str:
    """The JSON type name of a decoded value (for messages about what a document holds)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def item_interval(props: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """(start, end) of an item, in UTC: its datetime, or its start/end_datetime range.

    Raises :class:`CatalogError` when neither is set, a value is not a date-time, or the range
    ends before it starts."""
    start = _parse_dt(props.get("start_datetime"), "start_datetime") or _parse_dt(props.get("datetime"))
    end = _parse_dt(props.get("end_datetime"), "end_datetime") or _parse_dt(props.get("datetime"))
    if start is None and end is None:
        raise CatalogError("neither datetime nor start_datetime/end_datetime is set")
    if start is None or end is None:
        raise CatalogError(f"datetime is null and {'start' if start is None else 'end'}_datetime is not set")
    if end < start:
        raise CatalogError(f"end_datetime {end.isoformat()} is before start_datetime {start.isoformat()}")
    return start, end


def item_datetime(props: Mapping[str, Any]) -> dt.datetime:
    """An item's acquisition time in UTC: its datetime, or (a composite's) start_datetime."""
    return _parse_dt(props.get("datetime")) or item_interval(props)[0]


def scene_from_item(item: pystac.Item) -> Scene:
    """Adapter: a STAC item of a supported collection -> :class:`Scene`."""
    collection = item.collection_id
    if collection is None:
        raise CatalogError(f"item {item.id!r} names no collection; cannot choose its sensor table")
    sensor = S.sensor_for_item(collection, item.properties.get("platform"))
    props = item.properties
    start, end = item_interval(props)
    bands: dict[str, str] = {}
    scale_offset: dict[str, tuple[float, float]] = {}
    nodata: dict[str, float | None] = {}
    for band in sensor.bands:
        if band.common_name is None or band.common_name in bands:
            continue
        asset = item.assets.get(band.asset_key) or item.assets.get(band.common_name)
        if asset is None:
            continue
        bands[band.common_name] = asset.get_absolute_href() or asset.href
        raster = (asset.extra_fields.get("raster:bands") or [{}])[0]
        table_scale, table_offset = sensor.scale_offset(band, props)
        scale_offset[band.common_name] = (
            float(raster.get("scale", table_scale)),
            float(raster.get("offset", table_offset)),
        )
        nodata[band.common_name] = raster.get("nodata", band.nodata)
    qa = item.assets.get(sensor.qa.asset_key) or item.assets.get(sensor.qa.asset_key.lower())
    geometry = item.geometry or (mapping(box(*item.bbox)) if item.bbox else None)
    if geometry is None:
        raise CatalogError(f"item {item.id!r} has no geometry")
    transform = props.get("proj:transform")
    shape_ = props.get("proj:shape")
    return Scene(
        id=item.id,
        collection=collection,
        sensor=sensor.name,
        datetime=_parse_dt(props.get("datetime")) or start,  # UTC, like start and end
        start_datetime=start,
        end_datetime=end,
        bbox=_bbox4(item.bbox or shape(geometry).bounds),
        geometry=geometry,
        cloud_cover=props.get("eo:cloud_cover"),
        bands=bands,
        qa_href=(qa.get_absolute_href() or qa.href) if qa is not None else None,
        scale_offset=scale_offset,
        nodata=nodata,
        projection=Projection(
            _epsg(props),
            props.get("proj:wkt2"),
            tuple(transform) if transform else None,
            (int(shape_[0]), int(shape_[1])) if shape_ else None,
        ),
        item_href=item.get_self_href(),
        properties=dict(props),
    )


def _bbox4(values: Sequence[float]) -> tuple[float, float, float, float]:
    if len(values) < 4:
        raise CatalogError(f"bbox {list(values)} has fewer than 4 numbers")
    # A 3-D bbox (6 numbers) keeps its horizontal extent.
    if len(values) == 6:
        return float(values[0]), float(values[1]), float(values[3]), float(values[4])
    return float(values[0]), float(values[1]), float(values[2]), float(values[3])


def _epsg(props: dict[str, Any]) -> int | None:
    """EPSG code from ``proj:epsg`` (projection v1) or ``proj:code`` (v2, and pystac's migration)."""
    if props.get("proj:epsg") is not None:
        return int(props["proj:epsg"])
    code = props.get("proj:code")
    if isinstance(code, str) and code.upper().startswith("EPSG:"):
        return int(code.split(":", 1)[1])
    return None


# --------------------------------------------------------------------------------------------
# Search


def parse_aoi(value: str | BaseGeometry | Sequence[float] | None) -> BaseGeometry | None:
    """An AOI from a shapely geometry, a ``minx,miny,maxx,maxy`` string or sequence (WGS 84),
    a GeoJSON string, or a path to a GeoJSON file (geometry, Feature or FeatureCollection)."""
    if value is None or isinstance(value, BaseGeometry):
        return value
    if isinstance(value, (list, tuple)):
        return _bbox(value)
    text = str(value).strip()
    if os.path.exists(text) or text.endswith((".json", ".geojson")):
        try:
            data = json.loads(Path(text).read_text())
        except FileNotFoundError:
            raise ConfigError(f"AOI file {text} does not exist") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(
                f"AOI file {text} is not GeoJSON ({exc}); give a GeoJSON file or minx,miny,maxx,maxy"
            ) from exc
        return _valid_aoi(_geojson(data, source=f"AOI file {text}"), f"AOI file {text}")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"AOI {text[:60]!r} is not valid GeoJSON ({exc})") from exc
        return _valid_aoi(_geojson(data, source="the AOI's GeoJSON"), "the AOI's GeoJSON")
    try:
        numbers = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(
            f"AOI {value!r} is neither a GeoJSON file, a GeoJSON object nor 'minx,miny,maxx,maxy'"
        ) from None
    return _bbox(numbers)


def _bbox(values: Sequence[float]) -> BaseGeometry:
    if len(values) != 4:
        raise ConfigError(f"a bbox needs 4 numbers minx,miny,maxx,maxy; got {list(values)}")
    minx, miny, maxx, maxy = (float(v) for v in values)
    if not (minx < maxx and miny < maxy and minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90):
        raise ConfigError(f"bbox {list(values)} is not a valid WGS 84 box (minx<maxx, miny<maxy, in degrees)")
    return box(minx, miny, maxx, maxy)


def _geojson(obj: Any, source: str) -> BaseGeometry:
    if not isinstance(obj, Mapping):
        raise ConfigError(f"{source} is not a GeoJSON object (a geometry, Feature or FeatureCollection)")
    kind = obj.get("type")
    if kind == "FeatureCollection":
        from shapely.ops import unary_union

        features = obj.get("features") or []
        if not features:
            raise ConfigError(f"{source} is a FeatureCollection without features; give the area's polygon")
        return unary_union([_geojson(f, source) for f in features])
    if kind == "Feature":
        if not obj.get("geometry"):
            raise ConfigError(f"{source}: a Feature without geometry; give the area's polygon")
        return _geojson(obj["geometry"], source)
    try:
        return shape(obj)
    except Exception as exc:
        raise ConfigError(f"{source} is not a valid GeoJSON geometry: {exc}") from exc


def _valid_aoi(geom: BaseGeometry, source: str) -> BaseGeometry:
    """Refuse an empty, self-intersecting (e.g. a bowtie) or out-of-range AOI geometry."""
    if geom.is_empty:
        raise ConfigError(f"{source} is an empty geometry; give the area's polygon")
    if not geom.is_valid:
        from shapely.validation import explain_validity

        raise ConfigError(
            f"{source} is not a valid polygon ({explain_validity(geom)}); fix its ring (no "
            "self-intersections, e.g. with shapely's make_valid or QGIS 'Fix geometries')"
        )
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise ConfigError(f"{source} has coordinates {geom.bounds} outside WGS 84 degrees; give lon/lat")
    return geom


@dataclass(frozen=True)
class SearchRequest:
    aoi: BaseGeometry | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    collections: tuple[str, ...] | None = None
    max_cloud_cover: float | None = None

    def __post_init__(self) -> None:
        # The period is compared with the items' UTC instants: naive bounds are UTC, aware
        # ones are moved into UTC (a STAC API is then sent ...Z, as the static filter uses).
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _utc(value))
        if self.start and self.end and self.end < self.start:
            raise ConfigError(f"search end {self.end} is before start {self.start}")
        if self.max_cloud_cover is not None and not 0 <= self.max_cloud_cover <= 100:
            raise ConfigError(f"max cloud cover must be 0..100 percent, got {self.max_cloud_cover}")


def as_utc_range(
    start: dt.date | dt.datetime | None, end: dt.date | dt.datetime | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Dates as an inclusive UTC range (a date ``end`` means the end of that day)."""

    def conv(v: dt.date | dt.datetime | None, end_of_day: bool) -> dt.datetime | None:
        if v is None:
            return None
        if isinstance(v, dt.datetime):
            return _utc(v)
        t = dt.time(23, 59, 59, 999999) if end_of_day else dt.time(0)
        return dt.datetime.combine(v, t, dt.UTC)

    return conv(start, False), conv(end, True)


def _utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already."""
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def item_matches(item: Mapping[str, Any], req: SearchRequest) -> bool:
    """Whether an item (as JSON) satisfies ``req`` - the filter a STAC API applies. Periods
    are compared as UTC instants. An item whose dates cannot be read raises
    :class:`CatalogError` (unless another filter has already left it out)."""
    if req.collections is not None and item.get("collection") not in req.collections:
        return False
    props = item.get("properties", {})
    if req.max_cloud_cover is not None:
        cc = props.get("eo:cloud_cover")
        if not isinstance(cc, (int, float)) or cc > req.max_cloud_cover:
            return False
    start, end = item_interval(props)
    if req.start is not None and end < req.start:
        return False
    if req.end is not None and start > req.end:
        return False
    if req.aoi is not None:
        geom = item.get("geometry")
        if geom is None:
            return False
        try:
            footprint = shape(geom)
        except Exception as exc:  # shapely raises many types for malformed GeoJSON
            raise CatalogError(f"geometry is not valid GeoJSON ({exc})") from exc
        if not footprint.intersects(req.aoi):
            return False
    return True


@dataclass(frozen=True)
class DroppedItem:
    """An item a search could not use, and why; the rest of the search goes on without it."""

    item: str  #: the item's href (a static catalog's item file), else its id (a STAC API's item)
    reason: str  #: what is wrong, e.g. "item 'x': datetime 'yesterday' is not an RFC 3339 date-time"
    href: str | None = None  #: the item's file or URL, when known

    def text(self) -> str:
        """One line naming the item and its fault (what ``fusion search`` prints)."""
        return f"{self.item}: {self.reason}"


def scene_if_matching(data: Any, req: SearchRequest, href: str | None = None) -> Scene | None:
    """The scene of one item, given as decoded JSON (a file's or a STAC API's), when it
    satisfies ``req``; None when it does not.

    Raises :class:`~fusion.errors.FusionError` (a :class:`CatalogError`, or the sensor table's
    :class:`~fusion.errors.UnknownNameError`) when the item cannot be used: not a JSON object,
    not a STAC Item, a missing or unreadable datetime, no geometry, an unknown collection. The
    checks run before pystac sees the item, so the message names the field and the value
    rather than a parser's internals (pystac says "invalid literal for int()" of "yesterday")."""
    if not isinstance(data, dict):
        raise CatalogError(f"is a JSON {_json_kind(data)}, not a STAC Item object")
    label = f"item {data['id']!r}" if isinstance(data.get("id"), str) else "item without an id"
    if data.get("type") != "Feature":
        raise CatalogError(f"{label} is not a STAC Item (its type is {data.get('type')!r}, not 'Feature')")
    if not isinstance(data.get("properties"), dict):
        raise CatalogError(f"{label} has no properties object")
    try:
        if not item_matches(data, req):
            return None
    except CatalogError as exc:
        raise CatalogError(f"{label}: {exc}") from exc
    try:
        item = pystac.Item.from_dict(data, href=href)
    except Exception as exc:  # pystac raises ValueError, TypeError, KeyError, STACError, ...
        raise CatalogError(f"{label} is not a valid STAC Item ({type(exc).__name__}: {exc})") from exc
    return scene_from_item(item)


def load_catalog(path: str | os.PathLike[str]) -> pystac.Catalog:
    from fusion.remote import read_stac

    text = str(path)
    if "://" in text and not text.startswith("file://"):
        href = text if text.endswith(".json") else text.rstrip("/") + "/catalog.json"
    else:
        p = Path(path)
        if p.is_dir():
            p = p / "catalog.json"
        if not p.exists():
            raise SceneNotFound(
                f"no STAC catalog at {p}; run `fusion simulate --out DIR` or give the catalog.json path"
            )
        href = str(p)
    try:
        obj = read_stac(href)
    except CatalogError:
        raise
    except Exception as exc:
        raise CatalogError(f"{href} is not a readable STAC catalog: {exc}") from exc
    if not isinstance(obj, pystac.Catalog):
        raise CatalogError(f"{href} is a {type(obj).__name__}, not a catalog or collection")
    return obj


def search_static_catalog(
    catalog: str | os.PathLike[str], req: SearchRequest, dropped: list[DroppedItem] | None = None
) -> list[Scene]:
    """Scenes of a static catalog (local, http(s):// or gs://) that satisfy ``req``, sorted by
    (datetime, collection, id).

    An item that cannot be used (its file is missing or not JSON, it is not a STAC Item, its
    datetime is null or not a date-time, ...) does not stop the search: it is appended to
    ``dropped`` with the reason or, without that list, logged as a warning. A catalog, child
    catalog or collection that cannot be read still raises :class:`CatalogError`: going on
    would silently lose every item under it."""
    from fusion.remote import RemoteStacIO

    cat = load_catalog(catalog)
    io = RemoteStacIO()
    scenes = []
    for href in _item_hrefs(cat):
        try:
            scene = scene_if_matching(_read_json(io, href), req, href)
        except FusionError as exc:
            skipped = DroppedItem(href, str(exc), href)
            if dropped is None:
                log.warning("search skipped item %s", skipped.text())
            else:
                dropped.append(skipped)
            continue
        if scene is not None:
            scenes.append(scene)
    return sorted(scenes, key=lambda s: (s.datetime, s.collection, s.id))


def _item_hrefs(root: pystac.Catalog) -> Iterator[str]:
    """The absolute href of every item linked from ``root`` and its child catalogs and
    collections, each once, in breadth-first order.

    The items are not resolved here: pystac's ``get_items`` stops at the first item it cannot
    read, so the caller reads each on its own."""
    seen: set[str] = set()
    queue: list[pystac.Catalog] = [root]
    while queue:
        node = queue.pop(0)
        for link in node.links:
            if link.rel == pystac.RelType.ITEM:
                href = link.get_absolute_href() or link.href
                if href not in seen:
                    seen.add(href)
                    yield href
        for link in node.links:
            if link.rel != pystac.RelType.CHILD:
                continue
            href = link.get_absolute_href() or link.href
            if href in seen:
                continue
            seen.add(href)
            try:
                link.resolve_stac_object(root=root)
            except Exception as exc:  # pystac wraps the cause (missing file, bad JSON) in STACError
                raise CatalogError(
                    f"{href} (a child of {node.get_self_href()}) is not a readable STAC catalog or "
                    f"collection: {exc.__cause__ or exc}"
                ) from exc
            child = link.target
            if not isinstance(child, pystac.Catalog):  # a Collection is a Catalog too
                raise CatalogError(f"{href} is linked as a child catalog but is a {type(child).__name__}")
            queue.append(child)


def _read_json(io: pystac.StacIO, href: str) -> Any:
    """The decoded JSON document at ``href``; CatalogError saying why it cannot be read."""
    try:
        text = io.read_text(href)
    except FusionError:
        raise
    except FileNotFoundError:
        raise CatalogError("the item file does not exist") from None
    except UnicodeDecodeError as exc:
        raise CatalogError(f"the item file is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except Exception as exc:  # OSError, or a gs:// storage error
        raise CatalogError(f"the item file cannot be read ({type(exc).__name__}: {exc})") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CatalogError(f"the item file is not JSON ({exc})") from None


# --------------------------------------------------------------------------------------------
# Footprints and catalog files (shared by the catalog writers)


def reproject_geometry(geom: BaseGeometry, src_crs: str, dst_crs: str) -> BaseGeometry:
    """``geom`` from ``src_crs`` to ``dst_crs`` (vertices only; densify first where edges matter)."""
    transformer = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def wgs84_polygon(bounds: tuple[float, float, float, float], crs: str) -> BaseGeometry:
    poly = box(*bounds).segmentize(max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / 8)
    return reproject_geometry(poly, crs, "EPSG:4326").simplify(0)


def round_geometry(geom: BaseGeometry) -> dict[str, Any]:
    from shapely import set_precision

    return dict(mapping(set_precision(geom, 1e-7)))


def iter_item_files(catalog_dir: str | os.PathLike[str]) -> Iterable[Path]:
    """Every item JSON under a self-contained catalog folder (for brute-force checks)."""
    for path in sorted(Path(catalog_dir).rglob("*.json")):
        if path.name in ("catalog.json", "collection.json") or path.parent.name == "truth":
            continue
        yield path


# --------------------------------------------------------------------------------------------
# Licences of the input collections (the products' attribution)


def licensing_of(collection: Mapping[str, Any]) -> dict[str, Any]:
    """``license``, ``providers`` and the ``license`` links of a collection document."""
    return {
        "license": collection.get("license"),
        "providers": list(collection.get("providers") or []),
        "links": [
            {k: v for k, v in link.items() if k in ("rel", "href", "type", "title")}
            for link in collection.get("links", [])
            if link.get("rel") == "license" and "://" in str(link.get("href", ""))
        ],
    }
