"""`fusion models` and `fusion export-model`: the built-in model packages."""

from __future__ import annotations

from pathlib import Path

import click

from fusion.errors import ModelPackageError
from pipelines.cli.common import exit_on_fusion_error


@click.command()
@exit_on_fusion_error
def models() -> None:
    """List the built-in model packages, then the model choices (a choice, e.g. classical-auto,
    picks one of its packages per product: `fusion run --model classical-auto`)."""
    from fusion.models import TRAINED, get_choice, get_metadata, list_choices, list_models

    width = max(len(name) for name in [*list_models(), *list_choices()])
    for name in list_models():
        try:
            meta = get_metadata(name)
        except ModelPackageError:
            click.echo(f"{name:<{width}} (not built: {TRAINED.get(name, 'fusion export-model ' + name)})")
            continue
        click.echo(
            f"{name:<{width}} {meta.version:<7} {meta.task:<15} halo {meta.halo:>3}  {meta.description}"
        )
    for name in list_choices():
        choice = get_choice(name)
        click.echo(f"{name:<{width}} {'choice':<7} {choice.task:<15} {'':<8}  {choice.description}")


@click.command("export-model")
@click.argument("name")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the package to (e.g. fusion/models/packages/NAME).",
)
@exit_on_fusion_error
def export_model_cmd(name: str, out_dir: Path) -> None:
    """Rebuild a built-in classical model package (SavedModel + fusion-model.json). A model
    choice (classical-auto) is no package: export each of its packages."""
    from fusion.models import export_model

    path = export_model(name, out_dir)
    click.echo(f"exported {name} -> {path}")
