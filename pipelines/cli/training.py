"""`fusion train MODEL`: train a learned model and export it as a model package.

``train`` is a group with one subcommand per entry of the trainer registry
(:func:`fusion.models.list_trainers`). A subcommand's options are written here per model, as
they differ (DCSTFN trains on patch training sets, MGAN on a pair training set); what it runs -
the configuration class, the training, export and describe functions - is the model's
:func:`fusion.models.get_trainer` entry. A model without a trainer is refused with the
registry's message. The registry (and NumPy with it) is imported only when ``train`` is asked
for its commands, TensorFlow and a model's code only when one runs.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fusion.errors import ConfigError, UnknownNameError
from pipelines.cli.common import exit_on_fusion_error, quiet_option, setup_logging, stderr_progress

if TYPE_CHECKING:
    from fusion.models import TrainerEntry


class TrainerGroup(click.Group):
    """Subcommands: the trainer registry's models; an unknown one gets the registry's error."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from fusion.models import list_trainers

        return list_trainers()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from fusion.models import list_trainers

        if cmd_name not in list_trainers():
            return None
        command = self.commands.get(cmd_name)
        if command is None:
            return click.Command(
                cmd_name,
                help=f"(no command-line options for {cmd_name}: train it from Python)",
                callback=lambda: _no_options(cmd_name),
            )
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        from fusion.models import get_trainer

        name = args[0] if args else ""
        if not name.startswith("-") and self.get_command(ctx, name) is None:
            try:
                get_trainer(name)
            except UnknownNameError as exc:
                ctx.fail(str(exc))
        return super().resolve_command(ctx, args)


def _no_options(model: str) -> None:
    from fusion.models import get_trainer

    raise click.UsageError(
        f"model {model!r} has a trainer ({get_trainer(model).train}) but `fusion train` has no options "
        f"for it; call fusion.models.get_trainer({model!r}) from Python"
    )


@click.group(cls=TrainerGroup)
def train() -> None:
    """Train a learned model and export it as a model package: `fusion train MODEL --help`.

    MODEL is one of the models with a trainer (the commands below); each trains on folders
    written by `fusion training-set` (`--task harmonize` for mgan).
    """


def _trainer(ctx: click.Context) -> TrainerEntry:
    """The registry entry of the model the running subcommand is named after."""
    from fusion.models import get_trainer

    return get_trainer(str(ctx.info_name))


def _command_line(model: str) -> str | None:
    """The command as typed, for the package's metadata (None when not run as `fusion train MODEL`)."""
    return "fusion " + " ".join(sys.argv[1:]) if sys.argv[1:3] == ["train", model] else None


@train.command("dcstfn")
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
@click.pass_context
@exit_on_fusion_error
def train_dcstfn(
    ctx: click.Context,
    /,
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
    entry = _trainer(ctx)
    config_class, train_model = entry.load("config"), entry.load("train")
    export, describe = entry.load("export"), entry.load("describe")
    # DCSTFN's own steps besides the registry's: networks to fine-tune, the validation pass.
    from fusion.models.dcstfn.export import load_networks
    from fusion.models.dcstfn.trainer import validation_scores
    from fusion.training.dataset import TrainingSet

    setup_logging(quiet)
    progress = stderr_progress(quiet)
    try:
        feats = tuple(int(v) for v in features.split(","))
    except ValueError as exc:
        raise ConfigError(f"--features {features!r}: give three integers, e.g. 32,64,128") from exc
    if len(feats) != 3:
        raise ConfigError(f"--features {features!r}: give three integers d0,d1,d2, e.g. 32,64,128")
    cfg = config_class(
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
    result = train_model(dataset, cfg, work, progress, initial)
    result.scores = validation_scores(result, dataset, variant)
    path = export(out_dir, result, cfg, dataset, _command_line(str(ctx.info_name)))
    click.echo(
        f"trained in {result.seconds:.0f} s, epochs {result.epochs} (stopped by {', '.join(result.stopped)})"
    )
    click.echo(describe(result.scores))
    click.echo(f"package: {path}")


@train.command("mgan")
@click.option(
    "--data",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Pair training set folder written by `fusion training-set --task harmonize` (the "
    "Sentinel-2 / Landsat pairs within 1 day of a catalog, period and tiles).",
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
@click.pass_context
@exit_on_fusion_error
def train_mgan(
    ctx: click.Context,
    /,
    data: Path,
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

    The pairs of --data, read whole per tile by `fusion training-set --task harmonize`, are
    cut into 128-pixel patches (384 / 192 Sentinel-2 pixels) every 64 pixels; every N-th
    pair date is held out for validation, and the generator with the best validation RMSE is
    exported. The package records the pairs, the history and the
    validation SAM, ERGAS, RMSE, UIQI and PSNR of the MGAN, the HLS bandpass baseline and raw
    Sentinel-2 on the same patches.
    """
    from fusion.training.pairs import PairSet

    entry = _trainer(ctx)
    config_class, train_model = entry.load("config"), entry.load("train")
    export, describe = entry.load("export"), entry.load("describe")

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
    model = replace(
        config_class().model,
        bottom_filters=bottom_filters,
        generator_filters=ints(filters, 7, "--filters"),
        discriminator_filters=ints(discriminator_filters, 4, "--discriminator-filters"),
    )
    cfg = config_class(
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
    pairs = PairSet.open(data)
    progress(f"training the MGAN on the {len(pairs)} pairs of {data}")
    result = train_model(pairs, cfg, progress)
    path = export(out_dir, result, cfg, pairs, _command_line(str(ctx.info_name)))
    click.echo(f"trained {result.steps} steps in {result.seconds:.0f} s (best step {result.best_step})")
    click.echo(describe(result.scores))
    click.echo(f"package: {path}")
