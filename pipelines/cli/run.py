"""`fusion run` (one request on a local Beam runner) and `fusion demo` with its helpers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from fusion.tasks import DEFAULT_TASK, list_tasks
from pipelines.cli.common import (
    CsvType,
    beam_arguments,
    exit_on_fusion_error,
    quiet_option,
    request_options,
    setup_logging,
    stderr_progress,
)

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


def simulate_once(cfg: Any, folder: Path, progress: Any) -> None:
    """Simulate ``cfg`` into ``folder``, unless its catalog already holds this simulation."""
    from fusion.simulate import simulate

    catalog = folder / "catalog.json"
    if catalog.exists() and json.loads(catalog.read_text()).get("eo-fusion:simulation") == cfg.to_json():
        progress(f"reusing the simulated catalog {catalog}")
    else:
        result = simulate(cfg, folder, progress=progress)
        progress(f"simulated {len(result.items)} scenes in {result.seconds:.1f} s")


def demo_harmonize(out: Path, progress: Any, models: tuple[str, ...] = DEMO_HARMONIZE_MODELS) -> None:
    """`fusion demo --task harmonize` (see its help)."""
    import dataclasses

    from pipelines.evaluation import run_and_score

    cfg = dataclasses.replace(demo_simulation(), sensors=("landsat", "sentinel-2"))
    simulate_once(cfg, out / "scenes", progress)
    summary = run_and_score(
        str(out / "scenes"),
        out,
        models,
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


@click.command()
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
    type=click.Choice(list_tasks()),
    default=DEFAULT_TASK,
    show_default=True,
    help="harmonize: Sentinel-2 -> Landsat-8-like with the MGAN, the HLS bandpass baseline and raw "
    "Sentinel-2 (area average), scored against the observed Landsat.",
)
@click.option(
    "--models",
    type=CsvType(),
    help="Models to run, e.g. classical-auto or starfm,classical-auto: built-in names or model "
    "choices of the task (`fusion models`). [dcstfn,starfm,naive; harmonize: "
    "mgan,bandpass,area-average]",
)
@quiet_option
@exit_on_fusion_error
def demo(out_dir: Path, task: str, models: tuple[str, ...] | None, quiet: bool) -> None:
    """Run the embedded default end to end and score it.

    With --task harmonize: simulates Landsat + Sentinel-2 over the same area and period into
    OUT/harmonize/scenes, writes a harmonized COG + STAC Item for every clear-enough
    Sentinel-2 date with each of mgan, bandpass and area-average (OUT/harmonize/products),
    and prints seed 002's Table IV against the observed Landsat of the Sentinel-2 dates that
    have one within a day (OUT/harmonize/table.md). The rest of this help is the default task.

    1. Simulates Landsat + MODIS over a 15.36 km area (grid tile 14N-0040-0376, June to
       mid-August 2023, with a flood on 2023-07-12) into OUT/scenes, a static STAC catalog
       (reused when it already holds this simulation).
    2. Runs the fusion pipeline on the DirectRunner with the DCSTFN (trained on this
       simulated area's 2019-2022 seasons), STARFM and naive model packages: every MODIS
       8-day composite without its own clear Landsat image becomes a fused 30 m product per
       model in OUT/products (COG + STAC Item, one catalog).
    3. Prints RMSE and SSIM of every product against the simulated truth of the day the
       composite observed, the mean per model, and writes them to OUT/scores.md.
    4. Writes OUT/comparison.png (one date: fine reference, coarse input, simulated truth and
       each model's product) and OUT/index.html (products with thumbnails and scores, dead
       letters, the figure).

    Run reports (dead letters, summaries) go to OUT/reports/MODEL. --models runs other models
    instead, e.g. `--models classical-auto`: per product ESTARFM where two reference pairs
    bracket the date, else FSDAF (one pair); its products are scored as one model and
    the index names each product's method.
    """
    from fusion.errors import ConfigError
    from fusion.models import get_metadata

    setup_logging(quiet)
    progress = stderr_progress(quiet)
    out = out_dir.resolve()
    # Each demo shows the task of the models it runs.
    defaults = {
        get_metadata(DEMO_MODELS[0]).task: DEMO_MODELS,
        get_metadata(DEMO_HARMONIZE_MODELS[0]).task: DEMO_HARMONIZE_MODELS,
    }
    if task not in defaults:
        raise ConfigError(f"task {task!r} has no demo yet; demos exist for {', '.join(sorted(defaults))}")
    chosen = tuple(dict.fromkeys(models)) if models else defaults[task]
    check_demo_models(chosen, task)
    if task == get_metadata(DEMO_MODELS[0]).task:
        demo_spatiotemporal(out, progress, chosen)
    else:
        demo_harmonize(out / task, progress, chosen)


def check_demo_models(models: tuple[str, ...], task: str) -> None:
    """Refuse a demo model that is not a built-in package or model choice of ``task`` (the
    demo names its reports and figure panels by model)."""
    from fusion.errors import ConfigError
    from fusion.models import get_choice, get_metadata, is_model_choice, list_choices, list_models

    for model in models:
        if model not in list_models() and not is_model_choice(model):
            raise ConfigError(
                f"--models {model}: the demo runs built-in models or model choices "
                f"({', '.join([*list_models(), *list_choices()])}); `fusion run --model PATH` runs "
                "a package folder"
            )
        of = get_choice(model).task if is_model_choice(model) else get_metadata(model).task
        if of != task:
            raise ConfigError(
                f"--models {model}: a {of} model, but the demo's task is {task}; name {task} models "
                f"(`fusion models`) or give --task {of}"
            )


def demo_spatiotemporal(out: Path, progress: Any, models: tuple[str, ...] = DEMO_MODELS) -> None:
    """The default `fusion demo` (see its help)."""
    from fusion.evaluation.demo_report import write_demo_figure, write_run_index
    from fusion.evaluation.simulated import mean_by_model, score_output, score_table
    from pipelines.run import run_fusion

    cfg = demo_simulation()
    simulate_once(cfg, out / "scenes", progress)
    for model in models:
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
    figure, caption = write_demo_figure(
        out / "products", out / "scenes", scores, models, out / "comparison.png"
    )
    index = write_run_index(out, scores, models, figure, caption)
    click.echo(f"products: {out / 'products' / 'catalog.json'}")
    click.echo(f"figure: {figure} ({caption})")
    click.echo(f"run index: {index}")


@click.command(context_settings={"allow_extra_args": True})
@click.option(
    "--request",
    "request_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML or JSON request file; the options below override its fields.",
)
@request_options
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the run report goes (dead letters, products, summary). [fusion-reports/<time>]",
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Exit 0 even when a product failed or no product was produced.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan and exit 0: per tile, every target date to fuse (its reference dates and "
    "input scenes), already in the output, or skipped (with the reason the run would record). "
    "Searches the catalog and reads the scenes' QA assets (cloud masks) to assess clear "
    "fractions; reads no reflectance band, runs no model and writes nothing to the output "
    "(with --report-dir: plan.jsonl and plan.txt there).",
)
@quiet_option
@click.pass_context
@exit_on_fusion_error
def run(
    ctx: click.Context,
    /,
    request_file: Path | None,
    report_dir: Path | None,
    allow_partial: bool,
    dry_run: bool,
    quiet: bool,
    **fields: Any,
) -> None:
    """Run the fusion pipeline for one request.

    Arguments after `--` go to Apache Beam, e.g. `fusion run --request r.yaml -- --runner
    DirectRunner --direct_num_workers 2`; an option that is neither one of these nor a Beam
    option is refused. Prints the run summary; products already present are skipped.

    Tile ids depend on --tile-size (GRID-COL-ROW counts tiles of that many pixels): a --tiles
    id that lies outside the --aoi (or, without one, outside every scene found) at this tile
    size is refused, naming the tile size it fits.

    STAC API credentials: if the environment variable EO_FUSION_STAC_API_TOKEN is set, it is
    sent as `Authorization: Bearer <token>` with every request to a STAC API (searching a
    --catalog API, publishing to --stac-api; never to the public named sources) and never
    printed; an HTTP 401/403 is reported with the URL and this variable. --stac-api items go
    in batches where the API has the Bulk Transactions extension, else one by one.

    Exit status: 0 when every planned product exists (written now or before); 2 when the
    request is refused; 3 when a product failed or none was produced (see the summary and
    the report's dead-letter.jsonl), unless --allow-partial. --dry-run exits 0 (2 if refused).
    """
    from pipelines.run import run_fusion

    setup_logging(quiet)
    beam_args = beam_arguments(list(ctx.args))
    request = _request_from(request_file, fields)
    if dry_run:
        from pipelines.plan import plan_run

        plan = plan_run(request, beam_args, report_dir)
        click.echo(plan.text())
        if report_dir is not None:
            click.echo(f"plan: {report_dir / 'plan.jsonl'}")
        return
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report = report_dir or Path("fusion-reports") / stamp
    summary = run_fusion(request, report, beam_args)
    click.echo(summary.text())
    click.echo(f"report: {report}")
    failed = sum(1 for r in summary.dead_letters if r["kind"] == "failed")
    if allow_partial or (not failed and (summary.written or summary.existing)):
        return
    why = f"{failed} failed record(s)" if failed else "no product was produced"
    click.echo(f"incomplete run: {why}; exit 3 (--allow-partial exits 0)", err=True)
    ctx.exit(3)


def _request_from(request_file: Path | None, fields: dict[str, Any]) -> Any:
    """A FusionRequest from an optional file plus options (options win; an option period,
    absolute or relative, replaces the file's). File paths are resolved against the file's
    folder, option paths against the cwd."""
    from fusion.request import FusionRequest, request_fields_from_file
    from fusion.request_options import apply_options

    data: dict[str, Any] = request_fields_from_file(request_file) if request_file else {}
    return FusionRequest.from_mapping(apply_options(data, fields), base=Path.cwd())
