"""The ``fusion`` command line."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from fusion import __version__
from fusion.errors import FusionError


class _DateType(click.ParamType[dt.date]):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2023-04-01", param, ctx)


class _CsvType(click.ParamType[tuple[str, ...]]):
    name = "A,B,..."

    def __init__(self, choices: tuple[str, ...] | None = None):
        self.choices = choices

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        items = tuple(v.strip() for v in str(value).split(",") if v.strip())
        if not items:
            self.fail("give at least one value", param, ctx)
        if self.choices is not None:
            bad = [v for v in items if v not in self.choices]
            if bad:
                self.fail(f"{', '.join(bad)} not among {', '.join(self.choices)}", param, ctx)
        return items


DATE = _DateType()


def _stderr_progress(quiet: bool) -> Any:
    start = time.perf_counter()

    def report(message: str) -> None:
        if not quiet:
            click.echo(f"[{time.perf_counter() - start:6.1f}s] {message}", err=True)

    return report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fusion")
def main() -> None:
    """eo-fusion: fuse Landsat, Sentinel-2 and MODIS imagery into analysis-ready products.

    Start with `fusion simulate --out DIR` to make a local multi-sensor STAC catalog, then
    `fusion search DIR/catalog.json` to list its scenes.
    """


def _run(fn: Any) -> Any:
    """Turn FusionError into a clean one-line message and exit code 2."""
    try:
        return fn()
    except FusionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@main.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the catalog, COGs and truth/ into (created if missing).",
)
@click.option("--seed", default=42, show_default=True, type=int, help="Random seed; same seed, same bytes.")
@click.option(
    "--sensors",
    default="landsat,modis",
    show_default=True,
    type=_CsvType(("landsat", "modis", "sentinel-2")),
    help="Sensors to simulate: landsat (30 m, 16-day), modis (MOD09A1 8-day, sinusoidal 463 m), "
    "sentinel-2 (10/20 m, 5-day; about 10x slower than the other two together).",
)
@click.option("--start", type=DATE, default="2023-04-01", show_default=True, help="First simulated day.")
@click.option("--end", type=DATE, default="2023-09-30", show_default=True, help="Last simulated day.")
@click.option("--epsg", type=int, default=32614, show_default=True, help="UTM EPSG code of the area.")
@click.option(
    "--origin",
    type=(float, float),
    default=(614400.0, 4224640.0),
    show_default=True,
    help="Top-left corner X Y of the area of interest, in the UTM CRS.",
)
@click.option(
    "--size-km",
    type=float,
    default=30.72,
    show_default=True,
    help="Side of the square area of interest in km (a multiple of 0.48).",
)
@click.option(
    "--flood-date",
    type=DATE,
    default="2023-07-12",
    show_default=True,
    help="Day the river floods its plain (an abrupt change).",
)
@click.option(
    "--cloudiness",
    type=click.FloatRange(0, 1),
    default=0.35,
    show_default=True,
    help="Share of cloudy days (0 clear sky ... 1 always cloudy).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def simulate(
    out_dir: Path,
    seed: int,
    sensors: tuple[str, ...],
    start: dt.date,
    end: dt.date,
    epsg: int,
    origin: tuple[float, float],
    size_km: float,
    flood_date: dt.date,
    cloudiness: float,
    quiet: bool,
) -> None:
    """Simulate a multi-sensor time series as COGs plus a static STAC catalog.

    Writes DIR/catalog.json with collections landsat-c2-l2, modis-09A1-061 and
    sentinel-2-l2a (asset keys, raster:bands and QA as in the real collections) and
    DIR/truth/ with the noise-free surface in Landsat bands for evaluation.
    """
    from fusion.simulate import SimulationConfig
    from fusion.simulate import simulate as run_simulation

    def go() -> None:
        cfg = SimulationConfig(
            seed=seed,
            epsg=epsg,
            origin_x=origin[0],
            origin_y=origin[1],
            size_m=round(size_km * 1000.0, 3),
            start=start,
            end=end,
            sensors=sensors,
            flood_date=flood_date,
            mean_cloudiness=cloudiness,
            landsat_first=start + dt.timedelta(5),
            sentinel2_first=start + dt.timedelta(2),
        )
        result = run_simulation(cfg, out_dir, progress=_stderr_progress(quiet))
        summary = result.summary()
        click.echo(f"catalog: {summary['catalog']}")
        for coll, n in sorted(summary["items"].items()):
            click.echo(f"  {coll:<16} {n:>4} items")
        click.echo(f"truth:   {out_dir / 'truth'} ({summary['truth_dates']} days)")
        click.echo(f"done in {summary['seconds']} s")

    _run(go)


@main.command()
@click.argument("catalog", type=click.Path(path_type=Path))
@click.option("--aoi", help="Area: 'minx,miny,maxx,maxy' in degrees, a GeoJSON file, or a GeoJSON string.")
@click.option("--start", type=DATE, help="First day (inclusive).")
@click.option("--end", type=DATE, help="Last day (inclusive).")
@click.option(
    "--collections", type=_CsvType(), help="Only these collections, e.g. landsat-c2-l2,modis-09A1-061."
)
@click.option("--max-cloud", type=click.FloatRange(0, 100), help="Maximum eo:cloud_cover in percent.")
@click.option("--json", "as_json", is_flag=True, help="Print the scenes as JSON lines instead of a table.")
def search(
    catalog: Path,
    aoi: str | None,
    start: dt.date | None,
    end: dt.date | None,
    collections: tuple[str, ...] | None,
    max_cloud: float | None,
    as_json: bool,
) -> None:
    """Search a static STAC CATALOG (a catalog.json or its folder) for scenes."""
    from fusion.catalog import SearchRequest, as_utc_range, parse_aoi, search_static_catalog

    def go() -> None:
        t0, t1 = as_utc_range(start, end)
        req = SearchRequest(parse_aoi(aoi), t0, t1, collections, max_cloud)
        scenes = search_static_catalog(catalog, req)
        if as_json:
            for s in scenes:
                click.echo(json.dumps(s.to_json()))
            return
        click.echo(f"{'datetime':<20} {'collection':<16} {'cloud %':>7}  id")
        for s in scenes:
            cc = "-" if s.cloud_cover is None else f"{s.cloud_cover:.1f}"
            click.echo(f"{s.datetime:%Y-%m-%d %H:%M:%S}  {s.collection:<16} {cc:>7}  {s.id}")
        click.echo(f"{len(scenes)} scene(s)")

    _run(go)


@main.command()
def sensors() -> None:
    """List the sensor tables: collection, bands (common names) and QA decoder."""
    from fusion.sensors import SENSORS

    for s in SENSORS.values():
        bands = ", ".join(f"{b.common_name or b.name}@{b.resolution:g}m" for b in s.bands)
        click.echo(f"{s.name:<15} {s.collection:<15} QA {s.qa.asset_key} ({s.qa.decoder})\n    {bands}")


@main.command()
@click.option(
    "--out",
    "out_dir",
    default=Path("demo-output"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo's outputs.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def demo(out_dir: Path, quiet: bool) -> None:
    """Run the embedded default: simulate the demo area and search its catalog.

    Simulates the default 30.72 km area (Landsat + MODIS, April-September 2023) into
    OUT/scenes, searches the catalog and prints how many scenes (and how many with at most
    10 % cloud) each collection has, and writes a quicklook PNG (SWIR16/NIR/red) of the
    clearest Landsat scene to OUT/quicklook.png.
    """
    from fusion.catalog import SearchRequest, search_static_catalog
    from fusion.quicklook import write_quicklook
    from fusion.simulate import SimulationConfig
    from fusion.simulate import simulate as run_simulation

    def go() -> None:
        result = run_simulation(SimulationConfig(), out_dir / "scenes", progress=_stderr_progress(quiet))
        scenes = search_static_catalog(result.catalog_path, SearchRequest(max_cloud_cover=100.0))
        click.echo(f"simulated {len(scenes)} scenes in {result.seconds:.1f} s -> {result.catalog_path}")
        for coll in sorted({s.collection for s in scenes}):
            these = [s for s in scenes if s.collection == coll]
            clear = [s for s in these if (s.cloud_cover or 0) <= 10]
            click.echo(f"  {coll:<16} {len(these):>3} scenes, {len(clear):>3} with <= 10 % cloud")
        landsat = [s for s in scenes if s.collection == "landsat-c2-l2"]
        if landsat:
            best = min(landsat, key=lambda s: (s.cloud_cover or 0, s.datetime))
            png = write_quicklook(best, out_dir / "quicklook.png")
            click.echo(f"quicklook of {best.id} ({best.cloud_cover} % cloud): {png}")

    _run(go)


if __name__ == "__main__":  # pragma: no cover
    main()
