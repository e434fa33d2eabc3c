"""The request fields a launch may set one by one: a single definition for every front end.

``fusion run`` and ``fusion launch`` (click options, spelled ``--last-days``), the pipeline's
Beam options :class:`pipelines.options.FusionOptions` and the Flex Template parameters of
``infra/metadata.json`` (spelled ``last_days``) are all generated from :data:`REQUEST_OPTIONS`,
so each accepts the same fields, parses them the same way and describes them with the same
words. The remaining request fields (``resolution``, ``cog_profile``, the other ``pairing``
fields) come from a request file.

A value reaches :meth:`RequestOption.parse` either as text (a Beam option or a template
parameter) or already typed (a click option); both give the request field's value. This
module only defines and parses: it imports no front end, so the science package stays free
of click and Beam.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fusion.errors import ConfigError

#: How an option's value is written and parsed.
#: ``text`` as is; ``int`` a whole number (``minimum`` at least); ``date`` YYYY-MM-DD;
#: ``list`` comma-separated values; ``roles`` comma-separated ROLE=ID pairs.
Kind = Literal["text", "int", "date", "list", "roles"]


@dataclass(frozen=True)
class RequestOption:
    """One request field as a launch option."""

    name: str  #: request field name; also the Beam option and the template parameter
    label: str  #: short title (the template's parameter label)
    help: str  #: one or two sentences; the same text in --help and in the template
    kind: Kind = "text"
    minimum: int | None = None  #: for ``int``: the smallest value accepted
    #: the Flex Template parameter's regular expression: what a *cloud* launch accepts (e.g.
    #: only gs:// outputs; a model as a built-in name or an absolute path inside the image)
    regex: str = r"^\S+$"
    #: the request section the field lives in (``pairing``), or None for a top-level field
    section: str | None = None

    @property
    def flag(self) -> str:
        """The command-line spelling, e.g. ``--last-days``."""
        return "--" + self.name.replace("_", "-")

    def parse(self, value: Any) -> Any:
        """The request field's value of ``value`` (text, or already parsed by a front end)."""
        if self.kind == "int":
            return self._int(value)
        if self.kind == "date":
            return parse_date(value, self.name)
        if self.kind == "list":
            items = [str(v).strip() for v in (value.split(",") if isinstance(value, str) else value)]
            items = [v for v in items if v]
            if not items:
                raise ConfigError(f"{self.name}: give at least one value, comma-separated")
            return items
        if self.kind == "roles":
            return parse_roles(value, self.name)
        return str(value)

    def format(self, value: Any) -> str:
        """``value`` as the text :meth:`parse` reads back (a template parameter)."""
        parsed = self.parse(value)
        if self.kind == "list":
            return ",".join(parsed)
        if self.kind == "roles":
            return ",".join(f"{k}={v}" for k, v in parsed.items())
        if self.kind == "date":
            return str(parsed.isoformat())
        return str(parsed)

    def _int(self, value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigError(f"{self.name} {value!r} is not a whole number") from None
        if self.minimum is not None and number < self.minimum:
            raise ConfigError(f"{self.name} {number} must be at least {self.minimum}")
        return number


def parse_date(value: Any, name: str) -> dt.date:
    """A date from YYYY-MM-DD text, a date, or a datetime (YAML reads timestamps as such)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(
            f"{name} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2023-04-01"
        ) from None


def parse_roles(value: Any, name: str = "collections") -> dict[str, str]:
    """``ROLE=ID,ROLE=ID`` (or a mapping) as ``{role: collection id}``."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for item in str(value).split(",") if isinstance(value, str) else value:
        role, sep, collection = str(item).strip().partition("=")
        if not sep or not role.strip() or not collection.strip():
            raise ConfigError(
                f"{name} {item!r} must be ROLE=COLLECTION, e.g. fine=landsat-c2-l2,coarse=modis-09A1-061"
            )
        if role.strip() in out:
            raise ConfigError(f"{name}: role {role.strip()!r} is given twice")
        out[role.strip()] = collection.strip()
    if not out:
        raise ConfigError(f"{name}: give at least one ROLE=COLLECTION")
    return out


_TILE = r"\d{1,2}[NS]-\d{4}-\d{4}"
_NUMBER = r"-?\d+(\.\d+)?"
_ROLE = r"[a-z][a-z0-9_]*=[A-Za-z0-9][-_.A-Za-z0-9]*"

#: The fields of a relative period (instead of start/end), resolved when a job is launched.
RELATIVE_PERIOD_FIELDS = ("last_days", "lag_days")

#: Every request field a launch may set as an option, in --help order.
REQUEST_OPTIONS: tuple[RequestOption, ...] = (
    RequestOption(
        "catalog",
        "STAC catalog",
        "Where the scenes come from: a static STAC catalog (folder, catalog.json or its URL) or a "
        "STAC API URL. Dataflow workers need a gs:// or https:// URL.",
        regex=r"^(gs|https)://\S+$",
    ),
    RequestOption(
        "output",
        "Output folder",
        "Where the products and their STAC catalog go: a folder, or gs://BUCKET/PATH (Dataflow).",
        regex=r"^gs://[a-z0-9][-_.a-z0-9]*[a-z0-9](/\S*)?$",
    ),
    RequestOption(
        "start", "First target date", "First target date, YYYY-MM-DD (inclusive).", "date",
        regex=r"^\d{4}-\d{2}-\d{2}$",
    ),
    RequestOption(
        "end", "Last target date", "Last target date, YYYY-MM-DD (inclusive).", "date",
        regex=r"^\d{4}-\d{2}-\d{2}$",
    ),
    RequestOption(
        "last_days",
        "Rolling period (days)",
        "Instead of start/end: the last N days up to today (UTC), resolved when the job is launched.",
        "int",
        minimum=1,
        regex=r"^[1-9]\d{0,3}$",
    ),
    RequestOption(
        "lag_days",
        "Lag (days)",
        "With last_days: end the period N days before today (for late-published inputs). [0]",
        "int",
        minimum=0,
        regex=r"^\d{1,3}$",
    ),
    RequestOption(
        "aoi",
        "Area of interest",
        "Area: minx,miny,maxx,maxy in degrees (WGS 84); `fusion run` also takes a local GeoJSON "
        "file. [the scenes' extent]",
        regex=rf"^{_NUMBER}(,{_NUMBER}){{3}}$",
    ),
    RequestOption(
        "tiles",
        "Grid tiles",
        "Comma-separated output grid tile ids, e.g. 14N-0020-0188. [every tile of the area]",
        "list",
        regex=rf"^{_TILE}(,{_TILE})*$",
    ),
    RequestOption(
        "task",
        "Fusion task",
        "spatiotemporal: coarse + fine pairs -> fine-resolution images on the coarse dates; "
        "harmonize: Sentinel-2 -> Landsat-8-like on every Sentinel-2 date. [spatiotemporal]",
        regex=r"^[a-z][a-z0-9_]*$",
    ),
    RequestOption(
        "collections",
        "Input collections",
        "Collection per input role, ROLE=ID,... e.g. fine=landsat-c2-l2,coarse=modis-09A1-061 "
        "(harmonize: source=sentinel-2-l2a, fine=landsat-c2-l2). [the task's defaults]",
        "roles",
        regex=rf"^{_ROLE}(,{_ROLE})*$",
    ),
    RequestOption(
        "model",
        "Model package",
        "Built-in model name (`fusion models`), a model choice (classical-auto: per product "
        "estarfm where two reference pairs bracket the date, else fsdaf, the one-pair method `fusion "
        "models` names) or a model package folder (on Dataflow: an absolute path inside the image). "
        "[the task's default: starfm; harmonize: bandpass]",
        regex=r"^([a-z][a-z0-9_-]*|/[-_./a-zA-Z0-9]+)$",
    ),
    RequestOption(
        "epsg",
        "Output CRS",
        "Output UTM EPSG code, e.g. 32614. [the fine scenes' CRS]",
        "int",
        minimum=1024,
        regex=r"^\d{4,5}$",
    ),
    RequestOption(
        "tile_size", "Tile size (px)", "Output grid tile size in pixels. [1024]", "int", minimum=16,
        regex=r"^[1-9]\d{1,4}$",
    ),
    RequestOption(
        "block_size", "Block size (px)", "Inference block size in pixels. [512]", "int", minimum=16,
        regex=r"^[1-9]\d{1,4}$",
    ),
    RequestOption(
        "max_gap_days",
        "Maximum gap (days)",
        "Spatiotemporal: most days between a target and its reference pair. [64]",
        "int",
        minimum=1,
        regex=r"^[1-9]\d{0,3}$",
        section="pairing",
    ),
    RequestOption(
        "stac_api",
        "STAC API to publish to",
        "Also publish the products' collection and items to this STAC API (Transactions "
        "extension), e.g. https://stac.example.org.",
        regex=r"^https?://[^\s/]+(/\S*)?$",
    ),
)  # fmt: skip

#: The options by name.
OPTIONS_BY_NAME: dict[str, RequestOption] = {o.name: o for o in REQUEST_OPTIONS}


def apply_options(data: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Request fields ``data`` (e.g. from a request file) overridden by option ``values``
    (by option name; None = not given), each parsed by its option. A period given as options,
    absolute (start/end) or relative (last_days), replaces the file's period of either kind;
    a field of a section (``max_gap_days``) goes into that section, keeping its other fields."""
    unknown = sorted(set(values) - set(OPTIONS_BY_NAME))
    if unknown:
        raise ConfigError(f"unknown request option(s) {unknown}; known are {sorted(OPTIONS_BY_NAME)}")
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if value is None:
            continue
        option = OPTIONS_BY_NAME[name]
        if option.section is None:
            top[name] = option.parse(value)
        else:
            sections.setdefault(option.section, {})[name] = option.parse(value)
    out = override_fields(data, top)
    for section, fields in sections.items():
        given = out.get(section) or {}
        if not isinstance(given, Mapping):
            raise ConfigError(f"request field {section!r} must be a mapping, not {given!r}")
        out[section] = {**given, **fields}
    return out


def override_fields(data: Mapping[str, Any], flags: Mapping[str, Any]) -> dict[str, Any]:
    """Request fields ``data`` (e.g. from a file) overridden by ``flags`` (None = not given).
    A period given by the flags, absolute (start/end) or relative (last_days), replaces the
    file's period of either kind."""
    out = dict(data)
    given = {k: v for k, v in flags.items() if v is not None}
    if {"start", "end"} & set(given):
        for key in RELATIVE_PERIOD_FIELDS:
            out.pop(key, None)
    if "last_days" in given:
        out.pop("start", None)
        out.pop("end", None)
    out.update(given)
    return out
