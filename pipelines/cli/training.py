"""`fusion train` (DCSTFN) and `fusion train-mgan` (MGAN): train and export a model package."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from fusion.errors import ConfigError
from pipelines.cli.common import (
    DATE,
    CsvType,
    exit_on_fusion_error,
    quiet_option,
    setup_logging,
    stderr_progress,
)


@click.command()
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
@quiet_option
@exit_on_fusion_error
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
    from fusion.models.dcstfn.export import export_dcstfn, load_networks
    from fusion.models.dcstfn.trainer import TrainConfig, describe, train_dcstfn, validation_scores
    from fusion.training.dataset import TrainingSet

    setup_logging(quiet)
    progress = stderr_progress(quiet)
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
        f"trained in {result.seconds:.0f} s, epochs {result.epochs} (stopped by {', '.join(result.stopped)})"
    )
    click.echo(describe(result.scores))
    click.echo(f"package: {path}")


@click.command("train-mgan")
@click.option(
    "--catalog", required=True, help="Static STAC catalog (or STAC API) with Sentinel-2 and Landsat."
)
@click.option("--start", required=True, type=DATE, help="First day of the training period.")
@click.option("--end", required=True, type=DATE, help="Last day of the training period.")
@click.option("--tiles", type=CsvType(), help="Grid tile ids to train on. [every tile the scenes cover]")
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
@quiet_option
@exit_on_fusion_error
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
    from fusion.models.mgan.export import export_mgan
    from fusion.models.mgan.network import MganConfig
    from fusion.models.mgan.trainer import TASK, MganTrainConfig, describe, train_mgan
    from fusion.request import FusionRequest

    def ints(text: str, n: int, option: str) -> tuple[int, ...]:
        try:
            values = tuple(int(v) for v in text.split(","))
        except ValueError as exc:
            raise ConfigError(f"{option} {text!r}: give {n} comma-separated integers") from exc
        if len(values) != n:
            raise ConfigError(f"{option} {text!r}: give exactly {n} integers, got {len(values)}")
        return values

    setup_logging(quiet)
    progress = stderr_progress(quiet)
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
        task=TASK,
        tiles=tuple(tiles) if tiles else None,
        tile_size=tile_size,
    )
    result = train_mgan(request, cfg, progress)
    command = "fusion train-mgan " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train-mgan"] else None
    path = export_mgan(out_dir, result, cfg, request, command)
    click.echo(f"trained {result.steps} steps in {result.seconds:.0f} s (best step {result.best_step})")
    click.echo(describe(result.scores))
    click.echo(f"package: {path}")
