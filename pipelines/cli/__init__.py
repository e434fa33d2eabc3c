"""The ``fusion`` command line: the application layer above the science (``fusion``) and the
Beam pipelines (``pipelines``).

``main`` is the click group; the commands live in one module per group (data, run, cloud,
models, training, evaluate, browse) and import what they run inside their functions, so that
``fusion --help`` starts fast.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from fusion import __version__
from pipelines.cli import browse, cloud, data, evaluate, files, models, run, training


class _DropRunnerNoise(logging.Filter):
    """Beam's RunInference warns on every run that it cannot measure memory on this platform;
    the message says nothing a user can act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Resource module is not available" not in record.getMessage()


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null: C++ libraries write there, past Python's sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Imports ``tensorflow`` (once, whoever asks first) with fd 2 silenced: TensorFlow's
    absl start-up lines are printed before its own log level applies, so
    ``TF_CPP_MIN_LOG_LEVEL`` cannot stop them. An import error still raises as usual."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def quiet_exec(module: Any) -> None:
            with _stderr_silenced():
                exec_module(module)

        spec.loader.exec_module = quiet_exec  # type: ignore[method-assign]
        return spec


def quiet_libraries() -> None:
    """TensorFlow's C++ start-up and run lines (oneDNN, CPU features, XLA) and Beam's memory
    warning off; set before any command imports TensorFlow. ``fusion --verbose`` keeps them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger().addFilter(_DropRunnerNoise())
    if "tensorflow" not in sys.modules and not any(
        isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path
    ):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fusion")
@click.option("--verbose", is_flag=True, help="Keep TensorFlow's and Beam's own log lines.")
def main(verbose: bool) -> None:
    """eo-fusion: fuse Landsat, Sentinel-2 and MODIS imagery into analysis-ready products.

    `fusion demo` runs everything on simulated data. Otherwise start with
    `fusion simulate --out DIR` (a local multi-sensor STAC catalog), list its scenes with
    `fusion search DIR`, and fuse them with `fusion run --catalog DIR --output OUT --start ...
    --end ...`.
    """
    if not verbose:
        quiet_libraries()


for _command in (
    data.simulate,
    data.search,
    data.sensors,
    data.training_set,
    run.demo,
    run.run,
    files.fuse_files,
    cloud.launch,
    models.models,
    models.export_model_cmd,
    training.train,
    evaluate.evaluate,
    browse.browse,
):
    main.add_command(_command)

__all__ = ["main"]
