"""The ``fusion`` command line: the application layer above the science (``fusion``) and the
Beam pipelines (``pipelines``).

``main`` is the click group; the commands live in one module per group (data, run, cloud,
models, training, evaluate) and import what they run inside their functions, so that
``fusion --help`` starts fast.
"""

from __future__ import annotations

import click

from fusion import __version__
from pipelines.cli import cloud, data, evaluate, models, run, training


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fusion")
def main() -> None:
    """eo-fusion: fuse Landsat, Sentinel-2 and MODIS imagery into analysis-ready products.

    `fusion demo` runs everything on simulated data. Otherwise start with
    `fusion simulate --out DIR` (a local multi-sensor STAC catalog), list its scenes with
    `fusion search DIR`, and fuse them with `fusion run --catalog DIR --output OUT --start ...
    --end ...`.
    """


for _command in (
    data.simulate,
    data.search,
    data.sensors,
    data.training_set,
    run.demo,
    run.run,
    cloud.launch,
    models.models,
    models.export_model_cmd,
    training.train,
    training.train_mgan_command,
    evaluate.evaluate,
):
    main.add_command(_command)

__all__ = ["main"]
