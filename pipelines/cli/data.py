"""`fusion simulate`, `search` and `sensors`: scenes in, and `training-set`: examples out."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from fusion.errors import ConfigError
from fusion.tasks import DEFAULT_TASK
from pipelines.cli.common import (
    DATE,
    CsvType,
    beam_arguments,
    exit_on_fusion_error,
    quiet_option,
    setup_logging,
    stderr_progress,
    target_period_options,
)


@click.command()
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
    type=CsvType(("landsat", "modis", "sentinel-2")),
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
@quiet_option
@exit_on_fusion_error
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
    result = run_simulation(cfg, out_dir, progress=stderr_progress(quiet))
    summary = result.summary()
    click.echo(f"catalog: {summary['catalog']}")
    for coll, n in sorted(summary["items"].items()):
        click.echo(f"  {coll:<16} {n:>4} items")
    click.echo(f"truth:   {out_dir / 'truth'} ({summary['truth_dates']} days)")
    click.echo(f"done in {summary['seconds']} s")


@click.command()
@click.argument("catalog", type=click.Path(path_type=Path), required=False)
@click.option(
    "--source",
    help="Search a STAC API instead: earth-search, planetary-computer, cmr-stac, or an https:// URL "
    "(sent the bearer token in EO_FUSION_STAC_API_TOKEN, if set; never to the named sources).",
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
    "--collections", type=CsvType(), help="Only these collections, e.g. landsat-c2-l2,modis-09A1-061."
)
@click.option("--max-cloud", type=click.FloatRange(0, 100), help="Maximum eo:cloud_cover in percent.")
@click.option("--json", "as_json", is_flag=True, help="Print the scenes as JSON lines instead of a table.")
@exit_on_fusion_error
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
    where it has the Query extension); the rest is filtered here. Times are UTC. An item that
    cannot be used (no or an unreadable datetime, a file that is not a JSON object, ...) does
    not stop the search: a warning on stderr names it and what is wrong.
    """
    from fusion.catalog import DroppedItem, SearchRequest, as_utc_range, parse_aoi, search_static_catalog

    t0, t1 = as_utc_range(start, end)
    if (catalog is None) == (source is None):
        raise ConfigError("give either a CATALOG path or --source NAME/URL")
    dropped: list[DroppedItem] = []
    filtered: list[str] = []
    if source is not None:
        from fusion.sources import resolve_source
        from fusion.stacapi import search_api

        src = resolve_source(source)
        colls = collections or (src.collections or None)
        req = SearchRequest(parse_aoi(aoi), t0, t1, colls, max_cloud)
        found = search_api(src.url, req, max_items=max_items)
        scenes, dropped, filtered = found.scenes, found.dropped, found.filtered_here
        if found.truncated:
            click.echo(f"stopped at --max-items {max_items}: more items may match", err=True)
    else:
        req = SearchRequest(parse_aoi(aoi), t0, t1, collections, max_cloud)
        scenes = search_static_catalog(str(catalog), req, dropped)
    # Warnings go to stderr, so --json output stays one scene per line.
    for item in dropped:
        click.echo(f"warning: skipped item {item.text()}", err=True)
    if dropped:
        click.echo(f"warning: {len(dropped)} item(s) skipped; the other items were searched", err=True)
    if as_json:
        for s in scenes:
            click.echo(json.dumps(s.to_json()))
        return
    click.echo(f"{'datetime (UTC)':<20} {'collection':<16} {'cloud %':>7}  id")
    for s in scenes:
        cc = "-" if s.cloud_cover is None else f"{s.cloud_cover:.1f}"
        click.echo(f"{s.datetime:%Y-%m-%d %H:%M:%S}  {s.collection:<16} {cc:>7}  {s.id}")
    click.echo(f"{len(scenes)} scene(s)")
    if filtered:
        click.echo(f"filtered here {len(filtered)} item(s) the API returned that do not match the request:")
        for item_id in filtered:
            click.echo(f"  {item_id}")


@click.command()
def sensors() -> None:
    """List the sensor tables: collection, bands (common names) and QA decoder."""
    from fusion.sensors import SENSORS

    for s in SENSORS.values():
        bands = ", ".join(f"{b.common_name or b.name}@{b.resolution:g}m" for b in s.bands)
        click.echo(f"{s.name:<15} {s.collection:<15} QA {s.qa.asset_key} ({s.qa.decoder})\n    {bands}")


@click.command("training-set", context_settings={"allow_extra_args": True})
@click.option(
    "--catalog", required=True, help="Static STAC catalog (folder or catalog.json) or STAC API URL."
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the TFRecord shards, index-*.jsonl, dead-letter.jsonl and manifest.json "
    "(a task whose training set is pairs, e.g. harmonize: pairs/*.npz instead of the shards).",
)
@click.option(
    "--task",
    "task_name",
    default=DEFAULT_TASK,
    show_default=True,
    help="The task whose training set to build: spatiotemporal (patch examples, for dcstfn) or "
    "harmonize (whole-tile Sentinel-2 / Landsat pairs, for mgan).",
)
@target_period_options(required=True)
@click.option("--tiles", type=CsvType(), help="Grid tile ids. [every tile of the fine scenes]")
@click.option(
    "--tile-size", type=click.IntRange(16), default=1024, show_default=True, help="Grid tile size in pixels."
)
@click.option(
    "--bands",
    type=CsvType(),
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
    type=CsvType(),
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
@click.option(
    "--min-clear",
    type=click.FloatRange(0, 1),
    default=0.3,
    show_default=True,
    help="Pair training sets (--task harmonize): both scenes of a pair at least this clear on the tile.",
)
@quiet_option
@click.pass_context
@exit_on_fusion_error
def training_set(
    ctx: click.Context,
    /,
    catalog: str,
    out_dir: Path,
    task_name: str,
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
    min_clear: float,
    quiet: bool,
) -> None:
    """Build a training set for learned models (Beam): aligned patch triplets and targets.

    Every clear Landsat + MODIS pair of the period is a target; its nearest other pairs are
    references. With --truth (simulations), every clear MODIS composite is a target, labelled
    with the simulated truth. Patches go to train-*.tfrecord.gz or validation-*.tfrecord.gz, split by date
    AND area so that no image of a validation date and no pixel of the validation area is in
    training. Arguments after `--` go to Apache Beam (checked against Beam's options).

    --task harmonize builds the MGAN's pairs instead: every Sentinel-2 scene with its nearest
    Landsat scene within 1 day, both --min-clear clear, read whole per tile into pairs/*.npz
    (`fusion train mgan --data OUT`); the patch and split options do not apply.
    """
    from fusion.pairing import PairingConfig
    from fusion.request import FusionRequest
    from fusion.tasks import get_task
    from fusion.tasks.base import PAIR_TRAINING_SET, PATCH_TRAINING_SET
    from fusion.training.patches import PatchConfig
    from fusion.training.splits import SplitConfig

    setup_logging(quiet)
    beam_args = beam_arguments(list(ctx.args))
    kind = get_task(task_name).training_set
    _refuse_options_of_other_kind(ctx, kind, task_name)
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
        task=task_name,
        tiles=tiles,
        tile_size=tile_size,
        block_size=tile_size,
        pairing=PairingConfig(max_gap_days=max_gap_days),
    )
    if kind == PAIR_TRAINING_SET:
        from pipelines.pairset import PairsetSpec, run_pairset

        pairs = run_pairset(request, PairsetSpec(min_clear=min_clear), out_dir, beam_args)
        click.echo(
            f"pairs: {len(pairs['pairs'])} on {len(pairs['dates'])} dates; "
            f"dead letters {pairs['dead_letters']}; {pairs['seconds']} s"
        )
        click.echo(f"manifest: {out_dir / 'manifest.json'}")
        return
    if kind != PATCH_TRAINING_SET:
        raise ConfigError(f"task {task_name!r}: unknown training set kind {kind!r}")
    from pipelines.trainset import TrainsetSpec, run_trainset

    spec = TrainsetSpec(
        bands=bands,
        patches=PatchConfig(patch, stride, 16, min_valid),
        split=SplitConfig(dates, validation_every, validation_area),
        references=references,
        truth=str(truth.resolve()) if truth is not None else None,
    )
    manifest = run_trainset(request, spec, out_dir, beam_args)
    click.echo(
        f"examples: train {manifest['examples']['train']}, "
        f"validation {manifest['examples']['validation']}; "
        f"validation target dates {', '.join(manifest['target_dates']['validation']) or '-'}; "
        f"dead letters {manifest['dead_letters']}; {manifest['seconds']} s"
    )
    click.echo(f"manifest: {out_dir / 'manifest.json'}")


#: The options of `fusion training-set` that only the patch training set reads (the others
#: are read by the pair training set only).
PATCH_OPTIONS = (
    "bands",
    "patch",
    "stride",
    "min_valid",
    "validation_dates",
    "validation_every",
    "validation_area",
    "references",
    "max_gap_days",
    "truth",
)
PAIR_OPTIONS = ("min_clear",)


def _refuse_options_of_other_kind(ctx: click.Context, kind: str, task_name: str) -> None:
    """A usage error for an option given on the command line that the task's training set ignores."""
    from fusion.tasks.base import PAIR_TRAINING_SET

    ignored = PATCH_OPTIONS if kind == PAIR_TRAINING_SET else PAIR_OPTIONS
    given = [n for n in ignored if ctx.get_parameter_source(n) == click.core.ParameterSource.COMMANDLINE]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise click.UsageError(f"{flags}: not used by a {task_name} training set ({kind})", ctx)
