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
from fusion.errors import ConfigError, FusionError, ModelPackageError


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

    `fusion demo` runs everything on simulated data. Otherwise start with
    `fusion simulate --out DIR` (a local multi-sensor STAC catalog), list its scenes with
    `fusion search DIR`, and fuse them with `fusion run --catalog DIR --output OUT --start ...
    --end ...`.
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
@click.argument("catalog", type=click.Path(path_type=Path), required=False)
@click.option(
    "--source",
    help="Search a STAC API instead: earth-search, planetary-computer, cmr-stac, or an https:// URL.",
)
@click.option(
    "--max-items",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="With --source: stop after N.",
)
@click.option("--aoi", help="Area: 'minx,miny,maxx,maxy' in degrees, a GeoJSON file, or a GeoJSON string.")
@click.option("--start", type=DATE, help="First day (inclusive).")
@click.option("--end", type=DATE, help="Last day (inclusive).")
@click.option(
    "--collections", type=_CsvType(), help="Only these collections, e.g. landsat-c2-l2,modis-09A1-061."
)
@click.option("--max-cloud", type=click.FloatRange(0, 100), help="Maximum eo:cloud_cover in percent.")
@click.option("--json", "as_json", is_flag=True, help="Print the scenes as JSON lines instead of a table.")
def search(
    catalog: Path | None,
    source: str | None,
    max_items: int,
    aoi: str | None,
    start: dt.date | None,
    end: dt.date | None,
    collections: tuple[str, ...] | None,
    max_cloud: float | None,
    as_json: bool,
) -> None:
    """Search a static STAC CATALOG (a catalog.json or its folder), or a STAC API (--source).

    With --source the API filters what it can (collections, area, period, and cloud cover
    where it has the Query extension); the rest is filtered here. Items that could not be used
    are listed after the scenes with the reason.
    """
    from fusion.catalog import SearchRequest, as_utc_range, parse_aoi, search_static_catalog

    def go() -> None:
        t0, t1 = as_utc_range(start, end)
        if (catalog is None) == (source is None):
            raise ConfigError("give either a CATALOG path or --source NAME/URL")
        dropped: list[tuple[str, str]] = []
        if source is not None:
            from fusion.sources import resolve_source
            from fusion.stacapi import search_api

            src = resolve_source(source)
            colls = collections or (src.collections or None)
            req = SearchRequest(parse_aoi(aoi), t0, t1, colls, max_cloud)
            found = search_api(src.url, req, max_items=max_items)
            scenes, dropped = found.scenes, found.dropped
            if found.truncated:
                click.echo(f"stopped at --max-items {max_items}: more items may match", err=True)
        else:
            req = SearchRequest(parse_aoi(aoi), t0, t1, collections, max_cloud)
            scenes = search_static_catalog(str(catalog), req)
        if as_json:
            for s in scenes:
                click.echo(json.dumps(s.to_json()))
            return
        click.echo(f"{'datetime':<20} {'collection':<16} {'cloud %':>7}  id")
        for s in scenes:
            cc = "-" if s.cloud_cover is None else f"{s.cloud_cover:.1f}"
            click.echo(f"{s.datetime:%Y-%m-%d %H:%M:%S}  {s.collection:<16} {cc:>7}  {s.id}")
        click.echo(f"{len(scenes)} scene(s)")
        if dropped:
            click.echo(f"dropped {len(dropped)} item(s):")
            for item_id, reason in dropped:
                click.echo(f"  {item_id}: {reason}")

    _run(go)


@main.command()
def sensors() -> None:
    """List the sensor tables: collection, bands (common names) and QA decoder."""
    from fusion.sensors import SENSORS

    for s in SENSORS.values():
        bands = ", ".join(f"{b.common_name or b.name}@{b.resolution:g}m" for b in s.bands)
        click.echo(f"{s.name:<15} {s.collection:<15} QA {s.qa.asset_key} ({s.qa.decoder})\n    {bands}")


def _setup_logging(quiet: bool) -> None:
    import logging

    logger = logging.getLogger("eo-fusion")
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.propagate = False  # Beam configures the root logger; do not print twice
    # Beam's own INFO chatter (runner choice, type-hint notes) hides our progress lines.
    logging.getLogger("apache_beam").setLevel(logging.WARNING)


#: The demo's simulated area: tile 14N-0040-0376 of the 30 m / 512 px UTM grid (15.36 km,
#: central Kansas), June to mid-August 2023 - across the simulated flood of 2023-07-12.
DEMO_TILE = "14N-0040-0376"
DEMO_SIZE_M = 15_360.0
DEMO_START = dt.date(2023, 6, 1)
DEMO_END = dt.date(2023, 8, 15)
DEMO_MODELS = ("dcstfn", "starfm", "naive")


def demo_simulation() -> Any:
    from fusion.simulate import SimulationConfig

    return SimulationConfig(size_m=DEMO_SIZE_M, start=DEMO_START, end=DEMO_END)


DEMO_HARMONIZE_MODELS = ("mgan", "bandpass", "area-average")


def demo_harmonize(out: Path, progress: Any) -> None:
    """`fusion demo --task harmonize` (see its help)."""
    import dataclasses

    from fusion.evaluate_harmonize import run_and_score
    from fusion.simulate import simulate as run_simulation

    cfg = dataclasses.replace(demo_simulation(), sensors=("landsat", "sentinel-2"))
    catalog = out / "scenes" / "catalog.json"
    if catalog.exists() and json.loads(catalog.read_text()).get("eo-fusion:simulation") == cfg.to_json():
        progress(f"reusing the simulated catalog {catalog}")
    else:
        result = run_simulation(cfg, out / "scenes", progress=progress)
        progress(f"simulated {len(result.items)} scenes in {result.seconds:.1f} s")
    summary = run_and_score(
        str(out / "scenes"),
        out,
        DEMO_HARMONIZE_MODELS,
        DEMO_START,
        DEMO_END,
        (DEMO_TILE,),
        512,
        256,
        progress,
        "Harmonized Sentinel-2 vs observed Landsat (demo), mean over {n} dates",
        require_cases=False,
    )
    for model, text in summary["runs"].items():
        click.echo(f"{model}: {text}")
    if summary["cases"]:
        click.echo((out / "table.md").read_text())
        click.echo(f"scored dates: {', '.join(c['date'] for c in summary['cases'])}")
    else:
        click.echo(
            "No Sentinel-2 date of the demo period has a clear Landsat scene within a day, so no "
            "product is scored here; `make evaluate-harmonize` scores April-September 2023."
        )
    click.echo(f"products: {out / 'products' / 'catalog.json'}")


def demo_request(catalog: str, output: str, model: str) -> Any:
    """The request `fusion demo` runs per model (also used by benchmarks/remote_demo.py)."""
    from fusion.request import FusionRequest

    return FusionRequest(
        catalog=catalog,
        output=output,
        start=DEMO_START,
        end=DEMO_END,
        model=model,
        tile_size=512,
        block_size=256,
        tiles=(DEMO_TILE,),
    )


@main.command()
@click.option(
    "--out",
    "out_dir",
    default=Path("demo-output"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo's outputs.",
)
@click.option(
    "--task",
    type=click.Choice(("spatiotemporal", "harmonize")),
    default="spatiotemporal",
    show_default=True,
    help="harmonize: Sentinel-2 -> Landsat-8-like with the MGAN, the HLS bandpass baseline and raw "
    "Sentinel-2 (area average), scored against the observed Landsat.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def demo(out_dir: Path, task: str, quiet: bool) -> None:
    """Run the embedded default end to end and score it.

    With --task harmonize: simulates Landsat + Sentinel-2 over the same area and period into
    OUT/harmonize/scenes, writes a harmonized COG + STAC Item for every clear-enough
    Sentinel-2 date with each of mgan, bandpass and area-average (OUT/harmonize/products),
    and prints seed 002's Table IV against the observed Landsat of the Sentinel-2 dates that
    have one within a day (OUT/harmonize/table.md). The rest of this help is the default task.

    1. Simulates Landsat + MODIS over a 15.36 km area (grid tile 14N-0040-0376, June to
       mid-August 2023, with a flood on 2023-07-12) into OUT/scenes, a static STAC catalog
       (reused when it already holds this simulation).
    2. Runs the fusion pipeline on the DirectRunner with the DCSTFN (trained on this area in
       2022), STARFM and naive model packages: every MODIS 8-day composite without its own
       clear Landsat image becomes a fused 30 m product per model in OUT/products (COG +
       STAC Item, one catalog).
    3. Prints RMSE and SSIM of every product against the simulated truth of the day the
       composite observed, the mean per model, and writes them to OUT/scores.md.

    Run reports (dead letters, summaries) go to OUT/reports/MODEL.
    """
    from fusion.evaluate import mean_by_model, score_output, score_table
    from fusion.simulate import simulate as run_simulation
    from pipelines.run import run_fusion

    def go() -> None:
        _setup_logging(quiet)
        progress = _stderr_progress(quiet)
        out = out_dir.resolve()
        if task == "harmonize":
            demo_harmonize(out / "harmonize", progress)
            return
        cfg = demo_simulation()
        catalog = out / "scenes" / "catalog.json"
        if catalog.exists() and json.loads(catalog.read_text()).get("eo-fusion:simulation") == cfg.to_json():
            progress(f"reusing the simulated catalog {catalog}")
        else:
            result = run_simulation(cfg, out / "scenes", progress=progress)
            progress(f"simulated {len(result.items)} scenes in {result.seconds:.1f} s")
        for model in DEMO_MODELS:
            request = demo_request(str(out / "scenes"), str(out / "products"), model)
            progress(f"fusing with {model} ...")
            summary = run_fusion(request, out / "reports" / model)
            click.echo(f"{model}: {summary.text()}")
        scores = score_output(out / "products", out / "scenes")
        table = score_table(scores)
        means = mean_by_model(scores)
        (out / "scores.md").write_text(table + "\n")
        (out / "scores.json").write_text(json.dumps(means, indent=2) + "\n")
        click.echo("\nScores against the simulated truth (reflectance; SSIM with data range 1):\n")
        click.echo(table)
        ranking = sorted(means, key=lambda m: means[m]["rmse"])
        click.echo(
            "\nMean RMSE, best first: "
            + ", ".join(f"{m} {means[m]['rmse']:.4f} (SSIM {means[m]['ssim']:.4f})" for m in ranking)
        )
        click.echo(f"products: {out / 'products' / 'catalog.json'}")

    _run(go)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "--request",
    "request_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML or JSON request file; flags below override its fields.",
)
@click.option("--catalog", help="Static STAC catalog (folder, catalog.json or its URL) or a STAC API URL.")
@click.option("--output", help="Output folder (a static STAC catalog of products).")
@click.option("--start", type=DATE, help="First target date (inclusive).")
@click.option("--end", type=DATE, help="Last target date (inclusive).")
@click.option(
    "--last-days",
    type=click.IntRange(1),
    help="Instead of --start/--end: the last N days up to today (UTC), resolved now.",
)
@click.option(
    "--lag-days", type=click.IntRange(0), help="With --last-days: end the period N days before today. [0]"
)
@click.option("--aoi", help="Area: 'minx,miny,maxx,maxy' in degrees or a GeoJSON file.")
@click.option("--tiles", type=_CsvType(), help="Grid tile ids to produce, e.g. 14N-0020-0188.")
@click.option(
    "--model",
    help="Built-in model name (`fusion models`) or a model package folder. [starfm; harmonize: bandpass]",
)
@click.option("--stac-api", help="Also publish the products to this STAC API (Transactions extension).")
@click.option(
    "--task",
    type=click.Choice(("spatiotemporal", "harmonize")),
    help="spatiotemporal: MODIS + Landsat pairs -> daily Landsat-like; harmonize: Sentinel-2 -> "
    "Landsat-8-like on every Sentinel-2 date (needs a harmonize model). [spatiotemporal]",
)
@click.option("--fine-collection", help="Fine collection id. [landsat-c2-l2]")
@click.option("--coarse-collection", help="Coarse collection id. [modis-09A1-061]")
@click.option("--source-collection", help="harmonize: the Sentinel-2 collection id. [sentinel-2-l2a]")
@click.option("--epsg", type=int, help="Output UTM EPSG code. [the fine scenes' CRS]")
@click.option("--tile-size", type=click.IntRange(16), help="Grid tile size in pixels. [1024]")
@click.option("--block-size", type=click.IntRange(16), help="Block size in pixels. [512]")
@click.option(
    "--max-gap-days", type=click.IntRange(1), help="Maximum days between target and reference. [64]"
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the run report goes (dead letters, products, summary). [fusion-reports/<time>]",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
@click.pass_context
def run(
    ctx: click.Context, /, request_file: Path | None, report_dir: Path | None, quiet: bool, **fields: Any
) -> None:
    """Run the fusion pipeline for one request.

    Arguments after the options (e.g. --runner DirectRunner --direct_num_workers 2) go to
    Apache Beam unchanged. Prints the run summary; products already present are skipped.
    """
    from pipelines.run import run_fusion

    def go() -> None:
        _setup_logging(quiet)
        request = _request_from(request_file, fields)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        report = report_dir or Path("fusion-reports") / stamp
        summary = run_fusion(request, report, list(ctx.args))
        click.echo(summary.text())
        click.echo(f"report: {report}")

    _run(go)


def _request_from(request_file: Path | None, fields: dict[str, Any]) -> Any:
    """A FusionRequest from an optional file plus flags (flags win; a flag period, absolute or
    relative, replaces the file's). File paths are resolved against the file's folder, flag
    paths against the cwd."""
    from fusion.request import FusionRequest, override_fields, request_fields_from_file

    data: dict[str, Any] = request_fields_from_file(request_file) if request_file else {}
    gap = fields.pop("max_gap_days", None)
    data = override_fields(data, fields)
    if gap is not None:
        data["pairing"] = {**(data.get("pairing") or {}), "max_gap_days": gap}
    return FusionRequest.from_mapping(data, base=Path.cwd())


@main.command()
@click.option(
    "--request",
    "request_uri",
    help="Request file (YAML/JSON): a gs:// URI, or for a direct launch also a local file.",
)
@click.option("--catalog", help="Static catalog (gs:// or https:// catalog.json) or a STAC API URL.")
@click.option("--output", help="Output prefix, gs://BUCKET/PATH.")
@click.option("--start", type=DATE, help="First target date (inclusive).")
@click.option("--end", type=DATE, help="Last target date (inclusive).")
@click.option(
    "--last-days", type=click.IntRange(1), help="Rolling period: the last N days, resolved at launch."
)
@click.option(
    "--lag-days", type=click.IntRange(0), help="With --last-days: end N days before the launch date."
)
@click.option("--aoi", help="Area: 'minx,miny,maxx,maxy' in degrees.")
@click.option("--tiles", type=_CsvType(), help="Grid tile ids to produce.")
@click.option("--model", help="Built-in model name or a package folder inside the image.")
@click.option("--stac-api", help="Also publish the products to this STAC API (Transactions extension).")
@click.option("--report-dir", help="gs:// prefix for run reports (one sub-folder per launch).")
@click.option(
    "--runner",
    type=click.Choice(["DataflowRunner"]),
    default="DataflowRunner",
    show_default=True,
    help="Only Dataflow is launched from here; use `fusion run` for local runs.",
)
@click.option(
    "--template", help="gs:// path of the Flex Template spec: launch it instead of submitting directly."
)
@click.option("--project", envvar="GOOGLE_CLOUD_PROJECT", help="GCP project id. [$GOOGLE_CLOUD_PROJECT]")
@click.option("--region", default="europe-west4", show_default=True, help="Dataflow region.")
@click.option("--temp-location", help="gs:// folder for Dataflow temp files.")
@click.option("--staging-location", help="gs:// folder for staged files. [TEMP/staging]")
@click.option("--image", help="Worker (and launcher) container image in Artifact Registry.")
@click.option("--service-account", help="Worker service-account email (terraform output).")
@click.option("--subnetwork", help="regions/REGION/subnetworks/NAME (with Private Google Access).")
@click.option("--public-ips", is_flag=True, help="Give workers public IPs (default: private only).")
@click.option(
    "--gpu-type",
    default="nvidia-tesla-t4",
    show_default=True,
    help="Accelerator per worker, or 'none' for CPU workers.",
)
@click.option("--gpu-count", type=click.IntRange(1), default=1, show_default=True, help="GPUs per worker.")
@click.option("--machine-type", help="Worker machine type. [matches the GPU, e.g. n1-standard-8 for T4]")
@click.option("--max-workers", type=click.IntRange(1), default=10, show_default=True, help="Autoscaling cap.")
@click.option("--label", "labels", multiple=True, help="Job label KEY=VALUE (repeatable).")
@click.option("--job-name", help="Dataflow job name. [derived from task, model and period]")
@click.option("--dry-run", is_flag=True, help="Print the pipeline options and launch request; send nothing.")
def launch(
    request_uri: str | None,
    runner: str,
    template: str | None,
    project: str | None,
    region: str,
    temp_location: str | None,
    staging_location: str | None,
    image: str | None,
    service_account: str | None,
    subnetwork: str | None,
    public_ips: bool,
    gpu_type: str,
    gpu_count: int,
    machine_type: str | None,
    max_workers: int,
    labels: tuple[str, ...],
    job_name: str | None,
    dry_run: bool,
    **fields: Any,
) -> None:
    """Launch the fusion pipeline on Google Cloud Dataflow (GPU workers).

    Without --template the request is resolved here and the job submitted with the
    DataflowRunner; with --template the Flex Template launcher resolves it in the cloud
    (a relative --last-days period then counts from the launch date). The catalog must be a
    URL (a gs:// or https:// static catalog, or a STAC API), the output a gs:// prefix, a
    template's request file a gs:// URI. Values come from `terraform output` (README, Deploy).
    """
    from pipelines.launch import plan_launch, send_launch, template_parameters
    from pipelines.options import DataflowSettings

    def go() -> None:
        missing = [
            flag
            for flag, value in (
                ("--project", project),
                ("--temp-location", temp_location),
                ("--image", image),
                ("--service-account", service_account),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"fusion launch needs {', '.join(missing)} (see `terraform output`)")
        label_map: dict[str, str] = {}
        for item in labels:
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"label {item!r} must be KEY=VALUE")
            label_map[key] = value
        settings = DataflowSettings(
            project=str(project),
            region=region,
            temp_location=str(temp_location),
            staging_location=staging_location,
            image=str(image),
            service_account=str(service_account),
            subnetwork=subnetwork,
            public_ips=public_ips,
            gpu_type=None if gpu_type == "none" else gpu_type,
            gpu_count=gpu_count,
            machine_type=machine_type,
            max_workers=max_workers,
            labels=label_map,
            job_name=job_name,
        )
        params = template_parameters(
            {
                "request": request_uri,
                **{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in fields.items()},
            }
        )
        plan = plan_launch(settings, params, template)
        click.echo(plan.text())
        if dry_run:
            click.echo("dry run: nothing was sent")
            return
        send_launch(plan, click.echo)

    _run(go)


@main.command()
def models() -> None:
    """List the built-in model packages."""
    from fusion.models import TRAINED, get_metadata, list_models

    def go() -> None:
        for name in list_models():
            try:
                meta = get_metadata(name)
            except ModelPackageError:
                click.echo(f"{name:<12} (not built: {TRAINED.get(name, 'fusion export-model ' + name)})")
                continue
            click.echo(
                f"{name:<12} {meta.version:<7} {meta.task:<15} halo {meta.halo:>3}  {meta.description}"
            )

    _run(go)


@main.command("export-model")
@click.argument("name")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the package to (e.g. fusion/models/packages/NAME).",
)
def export_model_cmd(name: str, out_dir: Path) -> None:
    """Rebuild a built-in classical model package (SavedModel + fusion-model.json)."""
    from fusion.models import export_model

    def go() -> None:
        path = export_model(name, out_dir)
        click.echo(f"exported {name} -> {path}")

    _run(go)


@main.command("training-set", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "--catalog", required=True, help="Static STAC catalog (folder or catalog.json) or STAC API URL."
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the TFRecord shards, index-*.jsonl, dead-letter.jsonl and manifest.json.",
)
@click.option("--start", type=DATE, required=True, help="First target date (inclusive).")
@click.option("--end", type=DATE, required=True, help="Last target date (inclusive).")
@click.option("--tiles", type=_CsvType(), help="Grid tile ids. [every tile of the fine scenes]")
@click.option(
    "--tile-size", type=click.IntRange(16), default=1024, show_default=True, help="Grid tile size in pixels."
)
@click.option(
    "--bands",
    type=_CsvType(),
    default="blue,green,red,nir08,swir16,swir22",
    show_default=True,
    help="Bands (common names) of the examples.",
)
@click.option(
    "--patch", type=click.IntRange(1), default=10, show_default=True, help="Coarse patch size (seed 001: 10)."
)
@click.option(
    "--stride",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Coarse patch stride (seed 001: 5).",
)
@click.option(
    "--min-valid",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.9,
    show_default=True,
    help="Keep a patch when at least this share of its pixels is usable in all four images.",
)
@click.option(
    "--validation-dates",
    type=_CsvType(),
    help="Target dates held out for validation. [every --validation-every-th pair date]",
)
@click.option(
    "--validation-every", type=click.IntRange(2), default=4, show_default=True, help="See --validation-dates."
)
@click.option(
    "--validation-area",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.25,
    show_default=True,
    help="East share of every tile held out for validation.",
)
@click.option(
    "--references",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="Reference pairs per target pair.",
)
@click.option(
    "--max-gap-days", type=click.IntRange(1), default=64, show_default=True, help="Max days target-reference."
)
@click.option(
    "--truth",
    type=click.Path(file_okay=False, path_type=Path),
    help="Simulated data only: the truth/ folder `fusion simulate` wrote beside the catalog. Every "
    "MODIS composite clear enough to fuse becomes a target, with the reference pairs the fusion "
    "pipeline would give it (gaps from 1 day), labelled with the noise-free simulated surface of "
    "the day it observed instead of a Landsat image. [labels: the target pairs' Landsat images]",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
@click.pass_context
def training_set(
    ctx: click.Context,
    /,
    catalog: str,
    out_dir: Path,
    start: dt.date,
    end: dt.date,
    tiles: tuple[str, ...] | None,
    tile_size: int,
    bands: tuple[str, ...],
    patch: int,
    stride: int,
    min_valid: float,
    validation_dates: tuple[str, ...] | None,
    validation_every: int,
    validation_area: float,
    references: int,
    max_gap_days: int,
    truth: Path | None,
    quiet: bool,
) -> None:
    """Build a training set for learned models (Beam): aligned patch triplets and targets.

    Every clear Landsat + MODIS pair of the period is a target; its nearest other pairs are
    references. With --truth (simulations), every clear MODIS composite is a target, labelled
    with the simulated truth. Patches go to train-*.tfrecord.gz or validation-*.tfrecord.gz, split by date
    AND area so that no image of a validation date and no pixel of the validation area is in
    training. Arguments after the options go to Apache Beam.
    """
    from fusion.pairing import PairingConfig
    from fusion.request import FusionRequest
    from fusion.trainset import PatchConfig, SplitConfig
    from pipelines.trainset import TrainsetSpec, run_trainset

    def go() -> None:
        _setup_logging(quiet)
        try:
            dates = tuple(dt.date.fromisoformat(d) for d in validation_dates or ())
        except ValueError as exc:
            raise ConfigError(f"--validation-dates: {exc}; write dates as YYYY-MM-DD,YYYY-MM-DD") from exc
        if truth is not None and not (truth / "truth.json").is_file():
            raise ConfigError(
                f"--truth {truth}: no truth.json there; pass the truth/ folder that `fusion simulate` "
                "wrote beside the catalog (e.g. SCENES/truth)"
            )
        request = FusionRequest(
            catalog=catalog,
            output=str(out_dir),
            start=start,
            end=end,
            tiles=tiles,
            tile_size=tile_size,
            block_size=tile_size,
            pairing=PairingConfig(max_gap_days=max_gap_days),
        )
        spec = TrainsetSpec(
            bands=bands,
            patches=PatchConfig(patch, stride, 16, min_valid),
            split=SplitConfig(dates, validation_every, validation_area),
            references=references,
            truth=str(truth.resolve()) if truth is not None else None,
        )
        manifest = run_trainset(request, spec, out_dir, list(ctx.args))
        click.echo(
            f"examples: train {manifest['examples']['train']}, "
            f"validation {manifest['examples']['validation']}; "
            f"validation target dates {', '.join(manifest['target_dates']['validation']) or '-'}; "
            f"dead letters {manifest['dead_letters']}; {manifest['seconds']} s"
        )
        click.echo(f"manifest: {out_dir / 'manifest.json'}")

    _run(go)


@main.command()
@click.option(
    "--data",
    required=True,
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Training set folder written by `fusion training-set`; repeat to train on several "
    "(e.g. several simulated years) with the same bands and patch size.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Model package folder to write (usable as --model).",
)
@click.option(
    "--variant",
    type=click.Choice(["multi-band", "per-band"]),
    default="multi-band",
    show_default=True,
    help="One network for all bands, or one single-band network per band (the seed's layout).",
)
@click.option(
    "--features", default="32,64,128", show_default=True, help="Feature maps d0,d1,d2 (seed 001: 32,64,128)."
)
@click.option(
    "--residual",
    is_flag=True,
    help="Add fine(tk) to the network's output (seed 001 section 4's residual idea): the network "
    "learns the change since the reference date. Not in the seed's Figure 1.",
)
@click.option(
    "--naive-residual",
    is_flag=True,
    help="Add the naive difference fine(tk) + coarse(t0) - coarse(tk) (bilinear) to an output "
    "initialized to zero: the network starts as the naive method and learns a correction.",
)
@click.option(
    "--fine-skip",
    is_flag=True,
    help="Add a full-resolution branch (one convolution on fine(tk)) joining the fused feature "
    "maps before the 1 x 1 layers, so they can denoise the reference pixel by pixel. Not in the seed.",
)
@click.option(
    "--band-scale",
    is_flag=True,
    help="Normalize each band by its own standard deviation, so every band weighs alike in the "
    "loss (default: one scale for all bands, where NIR and SWIR errors dominate).",
)
@click.option("--augment", is_flag=True, help="Random flips and quarter turns of the training patches.")
@click.option(
    "--calibrate-bias",
    is_flag=True,
    help="After training, refit the last layer's bias so every band's mean residual over the "
    "training split is zero (the output's mean otherwise wanders with Adam's last steps).",
)
@click.option(
    "--pairs",
    "reference_pairs",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="Reference pairs the package uses: 2 runs the network on each of the two nearest "
    "pairs and averages the predictions where both are usable (training is per pair).",
)
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True)
@click.option(
    "--epochs", type=click.IntRange(1), default=50, show_default=True, help="At most this many epochs."
)
@click.option(
    "--patience",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Early stopping patience (epochs).",
)
@click.option(
    "--max-minutes",
    type=click.FloatRange(0, min_open=True),
    default=20.0,
    show_default=True,
    help="Wall-clock budget: stop after the epoch that passes it (per-band: shared by the bands).",
)
@click.option("--learning-rate", type=click.FloatRange(0, min_open=True), default=1e-3, show_default=True)
@click.option(
    "--init",
    "init_package",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Start from the networks of this DCSTFN package (fine-tuning).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (weights, shuffling).")
@click.option("--name", default="dcstfn", show_default=True, help="Model name in the package metadata.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="TensorBoard logs and checkpoints. [OUT/../OUT-NAME-training]",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def train(
    data: tuple[Path, ...],
    out_dir: Path,
    variant: str,
    features: str,
    residual: bool,
    naive_residual: bool,
    fine_skip: bool,
    band_scale: bool,
    augment: bool,
    calibrate_bias: bool,
    reference_pairs: int,
    batch_size: int,
    epochs: int,
    patience: int,
    max_minutes: float,
    learning_rate: float,
    init_package: Path | None,
    seed: int,
    name: str,
    workdir: Path | None,
    quiet: bool,
) -> None:
    """Train DCSTFN (seed 001) and export it as a model package.

    Keras, Adam, masked MSE; early stopping on the validation loss (best weights kept),
    TensorBoard logs and checkpoints in --workdir, a tf.distribute strategy chosen from the
    devices present (several GPUs: mirrored). The package records the training set, the
    history and the validation scores (RMSE, R2, KGE, SSIM per band, and the naive
    difference's on the same examples).
    """
    from fusion.train import (
        TrainConfig,
        TrainingSet,
        describe,
        export_dcstfn,
        load_networks,
        train_dcstfn,
        validation_scores,
    )

    def go() -> None:
        _setup_logging(quiet)
        progress = _stderr_progress(quiet)
        try:
            feats = tuple(int(v) for v in features.split(","))
        except ValueError as exc:
            raise ConfigError(f"--features {features!r}: give three integers, e.g. 32,64,128") from exc
        if len(feats) != 3:
            raise ConfigError(f"--features {features!r}: give three integers d0,d1,d2, e.g. 32,64,128")
        cfg = TrainConfig(
            variant=variant,
            features=feats,
            residual=residual,
            naive_residual=naive_residual,
            fine_skip=fine_skip,
            band_scale=band_scale,
            augment=augment,
            calibrate_bias=calibrate_bias,
            reference_pairs=reference_pairs,
            batch_size=batch_size,
            epochs=epochs,
            learning_rate=learning_rate,
            patience=patience,
            max_minutes=max_minutes,
            seed=seed,
            name=name,
        )
        dataset = TrainingSet.open_many(data)
        initial = load_networks(init_package) if init_package else None
        work = workdir or out_dir.parent / f"{out_dir.name}-training"
        progress(f"training {variant} DCSTFN on {dataset.manifest['examples']} examples; logs in {work}")
        result = train_dcstfn(dataset, cfg, work, progress, initial)
        result.scores = validation_scores(result, dataset, variant)
        command = "fusion train " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train"] else None
        path = export_dcstfn(out_dir, result, cfg, dataset, command)
        click.echo(
            f"trained in {result.seconds:.0f} s, epochs {result.epochs} "
            f"(stopped by {', '.join(result.stopped)})"
        )
        click.echo(describe(result.scores))
        click.echo(f"package: {path}")

    _run(go)


@main.command("train-mgan")
@click.option(
    "--catalog", required=True, help="Static STAC catalog (or STAC API) with Sentinel-2 and Landsat."
)
@click.option("--start", required=True, type=DATE, help="First day of the training period.")
@click.option("--end", required=True, type=DATE, help="Last day of the training period.")
@click.option("--tiles", type=_CsvType(), help="Grid tile ids to train on. [every tile the scenes cover]")
@click.option(
    "--tile-size", type=click.IntRange(128), default=1024, show_default=True, help="Grid tile size (px)."
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Model package folder to write (usable as --model with --task harmonize).",
)
@click.option(
    "--filters",
    default="32,64,128,256,256,256,256",
    show_default=True,
    help="Generator down-sampling filters, 7 levels (pix2pix: 64,128,256,512,512,512,512).",
)
@click.option("--bottom-filters", type=click.IntRange(1), default=32, show_default=True)
@click.option(
    "--discriminator-filters", default="32,64,128,256", show_default=True, help="PatchGAN filters, 4 levels."
)
@click.option("--batch-size", type=click.IntRange(1), default=4, show_default=True)
@click.option(
    "--max-minutes",
    type=click.FloatRange(0, min_open=True),
    default=30.0,
    show_default=True,
    help="Wall-clock budget for the training steps (reading pairs not included).",
)
@click.option("--max-steps", type=click.IntRange(1), help="Stop after this many steps.")
@click.option("--validate-every", type=click.IntRange(1), default=100, show_default=True, help="Steps.")
@click.option(
    "--validation-every",
    type=click.IntRange(2),
    default=4,
    show_default=True,
    help="Every N-th pair date (the 2nd, then every N) is held out for validation.",
)
@click.option(
    "--clip/--no-clip",
    default=True,
    show_default=True,
    help="Saturate values at the training set's 1st/99th percentiles before normalizing (seed 002). "
    "--no-clip keeps them (water is darker than the 1st percentile of NIR on a mostly land tile).",
)
@click.option(
    "--residual/--no-residual",
    default=True,
    show_default=True,
    help="The generator predicts a correction added to the area-averaged Sentinel-2 input "
    "(a departure from seed 002 for short CPU training); --no-residual: the seed's plain U-Net.",
)
@click.option(
    "--augment-geometry/--no-augment-geometry",
    default=True,
    show_default=True,
    help="Random flips and quarter turns of the training patches.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def train_mgan_command(
    catalog: str,
    start: dt.date,
    end: dt.date,
    tiles: list[str] | None,
    tile_size: int,
    out_dir: Path,
    filters: str,
    bottom_filters: int,
    discriminator_filters: str,
    batch_size: int,
    max_minutes: float,
    max_steps: int | None,
    validate_every: int,
    validation_every: int,
    clip: bool,
    residual: bool,
    augment_geometry: bool,
    seed: int,
    quiet: bool,
) -> None:
    """Train the MGAN (seed 002) on Sentinel-2 / Landsat pairs within 1 day and export it.

    Pairs are read whole per tile, cut into 128-pixel patches (384 / 192 Sentinel-2 pixels)
    every 64 pixels; every N-th pair date is held out for validation, and the generator with
    the best validation RMSE is exported. The package records the pairs, the history and the
    validation SAM, ERGAS, RMSE, UIQI and PSNR of the MGAN, the HLS bandpass baseline and raw
    Sentinel-2 on the same patches.
    """
    from fusion.models.mgan import MganConfig
    from fusion.request import FusionRequest
    from fusion.train_mgan import MganTrainConfig, describe, export_mgan, train_mgan

    def ints(text: str, n: int, option: str) -> tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.split(","))
        except ValueError as exc:
            raise ConfigError(f"{option} {text!r}: give {n} comma-separated integers") from exc
        if len(values) != n:
            raise ConfigError(f"{option} {text!r}: give exactly {n} integers, got {len(values)}")
        return values

    def go() -> None:
        _setup_logging(quiet)
        progress = _stderr_progress(quiet)
        model = MganConfig(
            bottom_filters=bottom_filters,
            generator_filters=ints(filters, 7, "--filters"),
            discriminator_filters=ints(discriminator_filters, 4, "--discriminator-filters"),
        )
        cfg = MganTrainConfig(
            model=model,
            batch_size=batch_size,
            max_minutes=max_minutes,
            max_steps=max_steps,
            validate_every=validate_every,
            validation_every=validation_every,
            clip_percentiles=(1.0, 99.0) if clip else None,
            residual=residual,
            augment_geometry=augment_geometry,
            seed=seed,
        )
        request = FusionRequest(
            catalog=catalog,
            output=str(out_dir),
            start=start,
            end=end,
            task="harmonize",
            tiles=tuple(tiles) if tiles else None,
            tile_size=tile_size,
        )
        result = train_mgan(request, cfg, progress)
        command = "fusion train-mgan " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train-mgan"] else None
        path = export_mgan(out_dir, result, cfg, request, command)
        click.echo(f"trained {result.steps} steps in {result.seconds:.0f} s (best step {result.best_step})")
        click.echo(describe(result.scores))
        click.echo(f"package: {path}")

    _run(go)


@main.group()
def evaluate() -> None:
    """Compare methods side by side: RMSE, R2, KGE, SSIM per band (seed 001 Tables 1-3) for
    spatiotemporal models; SAM, ERGAS, RMSE, UIQI, PSNR (seed 002 Table IV) for harmonize.

    Each subcommand writes table.md, table.csv, figure.png (observed vs fused, and density
    scatter plots) and scores.json into --out.
    """


@evaluate.command("harmonize")
@click.option(
    "--catalog", required=True, help="Static STAC catalog with Sentinel-2 and Landsat (e.g. simulated)."
)
@click.option(
    "--models",
    type=_CsvType(),
    default="mgan,bandpass,area-average",
    show_default=True,
    help="Harmonize model names or package folders.",
)
@click.option("--start", type=DATE, required=True, help="First Sentinel-2 date (inclusive).")
@click.option("--end", type=DATE, required=True, help="Last Sentinel-2 date (inclusive).")
@click.option("--tiles", type=_CsvType(), help="Grid tile ids. [every tile]")
@click.option("--tile-size", type=click.IntRange(16), default=1024, show_default=True)
@click.option("--block-size", type=click.IntRange(16), default=512, show_default=True)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder; products go to OUT/products (reused when present).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def evaluate_harmonize(
    catalog: str,
    models: tuple[str, ...],
    start: dt.date,
    end: dt.date,
    tiles: tuple[str, ...] | None,
    tile_size: int,
    block_size: int,
    out_dir: Path,
    quiet: bool,
) -> None:
    """Harmonize Sentinel-2 with every model and score against the observed Landsat.

    Seed 002 Table IV: SAM, ERGAS, RMSE, UIQI (32 x 32 windows) and PSNR per band and overall,
    averaged over the Sentinel-2 dates that have a clear Landsat scene within a day, on the
    pixels valid in every product and usable in Landsat. Use dates the MGAN was not trained on.
    """
    from fusion.evaluate_harmonize import run_and_score

    def go() -> None:
        _setup_logging(quiet)
        progress = _stderr_progress(quiet)
        out = out_dir.resolve()
        local = catalog if "://" in catalog else str(Path(catalog).resolve())
        summary = run_and_score(
            local, out, models, start, end, tiles, tile_size, block_size, progress,
            f"Harmonized vs observed Landsat, {start}..{end}, mean over {{n}} dates",
        )  # fmt: skip
        click.echo((out / "table.md").read_text())
        click.echo(f"dates: {', '.join(c['date'] for c in summary['cases'])}")
        for note in summary["left_out"]:
            click.echo(f"left out: {note}")
        click.echo(f"report: {out}")

    _run(go)


@evaluate.command("simulated")
@click.option(
    "--simulation",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder written by `fusion simulate` (catalog.json + truth/).",
)
@click.option(
    "--models",
    type=_CsvType(),
    default="dcstfn,starfm,naive",
    show_default=True,
    help="Built-in model names or package folders.",
)
@click.option("--start", type=DATE, required=True, help="First target date (inclusive).")
@click.option("--end", type=DATE, required=True, help="Last target date (inclusive).")
@click.option("--tiles", type=_CsvType(), help="Grid tile ids. [every tile]")
@click.option("--tile-size", type=click.IntRange(16), default=1024, show_default=True)
@click.option("--block-size", type=click.IntRange(16), default=512, show_default=True)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder; products go to OUT/products (reused when present).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def evaluate_simulated(
    simulation: Path,
    models: tuple[str, ...],
    start: dt.date,
    end: dt.date,
    tiles: tuple[str, ...] | None,
    tile_size: int,
    block_size: int,
    out_dir: Path,
    quiet: bool,
) -> None:
    """Fuse a simulated period with every model and score the products against the truth.

    Use a simulation none of the models was trained on (another seed or period) so that the
    dates are held out. Products of the same tile and date are scored on the pixels valid in
    all of them.
    """
    from fusion.evaluate import simulated_comparisons, write_report
    from fusion.request import FusionRequest
    from pipelines.run import run_each_model

    def go() -> None:
        _setup_logging(quiet)
        progress = _stderr_progress(quiet)
        out = out_dir.resolve()
        request = FusionRequest(
            catalog=str(simulation.resolve()),
            output=str(out / "products"),
            start=start,
            end=end,
            model=models[0],
            tiles=tiles,
            tile_size=tile_size,
            block_size=block_size,
        )
        names = list(run_each_model(request, models, out, progress, "fusing"))
        comparisons = simulated_comparisons(out / "products", simulation, names)
        if not comparisons:
            raise ConfigError(
                f"no tile and date was fused by all of {names}; check the period and the run "
                f"reports in {out / 'reports'}"
            )
        caption = (
            f"Simulated {simulation.name}, {start}..{end}: mean over {len(comparisons)} fused dates "
            f"({', '.join(c.title for c in comparisons)})."
        )
        report = write_report(out, comparisons, caption)
        click.echo(report["table"])
        click.echo(
            "mean RMSE over bands: "
            + ", ".join(f"{m} {v:.4f}" for m, v in report["mean_rmse_over_bands"].items())
        )
        click.echo(f"report: {out}")

    _run(go)


@evaluate.command("real")
@click.option("--dataset", type=click.Choice(["gwydir_flood", "shenzhen"]), required=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The shared/data folder. [../shared/data beside the checkout]",
)
@click.option(
    "--sim-model",
    default="dcstfn",
    show_default=True,
    help="DCSTFN package trained on simulated data: scored as is, and the start of on-site training.",
)
@click.option(
    "--holdout",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.5,
    show_default=True,
    help="East share of the image held out of training and scored.",
)
@click.option(
    "--site-minutes",
    type=click.FloatRange(0, min_open=True),
    default=10.0,
    show_default=True,
    help="Wall-clock budget of on-site training.",
)
@click.option(
    "--stride",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Patch stride in coarse pixels for on-site training (a small site needs a small stride).",
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="No progress messages.")
def evaluate_real(
    dataset: str,
    data_dir: Path | None,
    sim_model: str,
    holdout: float,
    site_minutes: float,
    stride: int,
    out_dir: Path,
    quiet: bool,
) -> None:
    """Score naive, STARFM, DCSTFN trained on simulated data, and DCSTFN trained on the
    site's west part, on the east hold-out of a real set in shared/data."""
    from fusion.realdata import evaluate_real_set

    def go() -> None:
        _setup_logging(quiet)
        report = evaluate_real_set(
            dataset,
            out_dir.resolve(),
            data_dir=data_dir,
            sim_package=sim_model,
            site_minutes=site_minutes,
            holdout=holdout,
            stride=stride,
            progress=_stderr_progress(quiet),
        )
        click.echo(report["table"])
        click.echo(
            "mean RMSE over bands: "
            + ", ".join(f"{m} {v:.4f}" for m, v in report["mean_rmse_over_bands"].items())  # type: ignore[attr-defined]
        )
        for key, value in report["notes"].items():  # type: ignore[attr-defined]
            click.echo(f"{key}: {value}")
        click.echo(f"report: {out_dir}")

    _run(go)


if __name__ == "__main__":  # pragma: no cover
    main()
