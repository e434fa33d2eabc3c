"""`fusion evaluate`: methods side by side, on simulated, harmonize and real sets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from fusion.errors import ConfigError
from fusion.tasks import HARMONIZE
from pipelines.cli.common import (
    DATE,
    CsvType,
    evaluation_tiling_options,
    exit_on_fusion_error,
    quiet_option,
    report_out_option,
    setup_logging,
    stderr_progress,
    target_period_options,
)


@click.group()
def evaluate() -> None:
    """Compare methods side by side: RMSE, R2, KGE, SSIM per band (seed 001 Tables 1-3) for
    spatiotemporal models; SAM, ERGAS, RMSE, UIQI, PSNR (seed 002 Table IV) for harmonize.

    Each subcommand writes table.md, table.csv, figure.png (observed vs fused, and density
    scatter plots) and scores.json into --out.
    """


@evaluate.command(HARMONIZE)
@click.option(
    "--catalog", required=True, help="Static STAC catalog with Sentinel-2 and Landsat (e.g. simulated)."
)
@click.option(
    "--models",
    type=CsvType(),
    default="mgan,bandpass,area-average",
    show_default=True,
    help="Harmonize model names or package folders.",
)
@click.option("--start", type=DATE, required=True, help="First Sentinel-2 date (inclusive).")
@click.option("--end", type=DATE, required=True, help="Last Sentinel-2 date (inclusive).")
@evaluation_tiling_options
@report_out_option
@quiet_option
@exit_on_fusion_error
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
    from pipelines.evaluation import run_and_score

    setup_logging(quiet)
    progress = stderr_progress(quiet)
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


@evaluate.command("simulated")
@click.option(
    "--simulation",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder written by `fusion simulate` (catalog.json + truth/).",
)
@click.option(
    "--models",
    type=CsvType(),
    default="dcstfn,starfm,naive",
    show_default=True,
    help="Built-in model names, model choices (classical-auto) or package folders.",
)
@target_period_options(required=True)
@evaluation_tiling_options
@report_out_option
@quiet_option
@exit_on_fusion_error
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
    from fusion.evaluation.report import write_report
    from fusion.evaluation.simulated import simulated_comparisons
    from fusion.request import FusionRequest
    from pipelines.run import run_each_model

    setup_logging(quiet)
    progress = stderr_progress(quiet)
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
@quiet_option
@exit_on_fusion_error
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
    site's west part, on the east hold-out of a real set in shared/data.

    Every model is scored through its model package, as production runs use it; the on-site
    DCSTFN is exported to OUT/packages/dcstfn-onsite and scored from there (notes.json names
    the package of each DCSTFN)."""
    from fusion.evaluation.real import evaluate_real_set

    setup_logging(quiet)
    report = evaluate_real_set(
        dataset,
        out_dir.resolve(),
        data_dir=data_dir,
        sim_package=sim_model,
        site_minutes=site_minutes,
        holdout=holdout,
        stride=stride,
        progress=stderr_progress(quiet),
    )
    click.echo(report["table"])
    click.echo(
        "mean RMSE over bands: "
        + ", ".join(f"{m} {v:.4f}" for m, v in report["mean_rmse_over_bands"].items())  # type: ignore[attr-defined]
    )
    notes = report["notes"]
    for key, value in notes.items():  # type: ignore[attr-defined]
        if key != "packages":
            click.echo(f"{key}: {value}")
    for method, source in notes["packages"].items():  # type: ignore[index]
        click.echo(f"{method} scored from the package {source['path']}")
    click.echo(f"report: {out_dir}")
