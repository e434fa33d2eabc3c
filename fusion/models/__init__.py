"""Model registry: built-in model packages shipped in the repository, their exporters and the
trainers of the learned ones.

A model is named either by a built-in name (``fusion models`` lists them) or by the path of a
package folder. Built-in packages live in ``fusion/models/packages/<name>/`` and are rebuilt,
bit-for-bit in behaviour, by ``fusion export-model <name> --out fusion/models/packages/<name>``
(classical methods) or by training (learned models, :data:`TRAINED`).

Exporters and trainers are named here by reference - ``"module:attribute"`` strings - and
imported on first use (:func:`resolve_reference`), so importing the registry, or
:mod:`fusion.models.package`, loads neither TensorFlow nor any model's code.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusion.errors import UnknownNameError
from fusion.models.package import LoadedModel, ModelMetadata, load_model_package, read_metadata

PACKAGES_DIR = Path(__file__).parent / "packages"

#: Built-in exported packages: name -> ``"module:function"`` of the exporter(path, **kwargs)
#: that rebuilds it.
EXPORTERS: dict[str, str] = {
    "starfm": "fusion.models.classical.starfm:export_starfm",
    "estarfm": "fusion.models.classical.estarfm:export_estarfm",
    "fsdaf": "fusion.models.classical.fsdaf:export_fsdaf",
    "naive": "fusion.models.classical.naive:export_naive",
    "bandpass": "fusion.models.classical.bandpass:export_bandpass",
    "area-average": "fusion.models.classical.bandpass:export_area_average",
}


#: Built-in learned packages: name -> how to rebuild it (they are trained, not exported).
TRAINED: dict[str, str] = {
    "dcstfn": "make dcstfn-package (see README, 'Reproduce the DCSTFN package')",
    "mgan": "make mgan-package (see README, 'Reproduce the MGAN package')",
}


def resolve_reference(reference: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names (the module imported now)."""
    module, sep, attribute = reference.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"reference {reference!r} is not of the form 'package.module:attribute'")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class TrainerEntry:
    """How a learned model is trained and packaged, as ``"module:attribute"`` references.

    * ``config``: the training configuration class (a frozen dataclass);
    * ``train``: the training function (``train_dcstfn(data, cfg, workdir, ...)`` on a patch
      training set, ``train_mgan(data, cfg, progress)`` on a pair training set: both folders
      written by ``fusion training-set``; their other inputs differ, see each module);
    * ``export``: writes the trained result as a model package;
    * ``describe``: one line of the validation scores a training recorded.

    :meth:`load` imports one of them (TensorFlow is imported only when training starts)."""

    model: str
    config: str
    train: str
    export: str
    describe: str

    def load(self, part: str) -> Any:
        """The object of ``part`` (``"config"``, ``"train"``, ``"export"`` or ``"describe"``)."""
        if part not in ("config", "train", "export", "describe"):
            raise UnknownNameError(f"trainer part {part!r}: choose one of config, train, export, describe")
        return resolve_reference(getattr(self, part))


#: Learned models: name -> its trainer (the CLI's ``fusion train MODEL`` asks :func:`get_trainer`).
TRAINERS: dict[str, TrainerEntry] = {
    "dcstfn": TrainerEntry(
        model="dcstfn",
        config="fusion.models.dcstfn.trainer:TrainConfig",
        train="fusion.models.dcstfn.trainer:train_dcstfn",
        export="fusion.models.dcstfn.export:export_dcstfn",
        describe="fusion.models.dcstfn.trainer:describe",
    ),
    "mgan": TrainerEntry(
        model="mgan",
        config="fusion.models.mgan.trainer:MganTrainConfig",
        train="fusion.models.mgan.trainer:train_mgan",
        export="fusion.models.mgan.export:export_mgan",
        describe="fusion.models.mgan.trainer:describe",
    ),
}


def list_models() -> list[str]:
    return sorted({*EXPORTERS, *TRAINED})


def list_trainers() -> list[str]:
    """Names of the models ``get_trainer`` knows, sorted."""
    return sorted(TRAINERS)


def is_builtin_model(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether ``name_or_path`` names a package shipped with eo-fusion (not a folder path)."""
    return str(name_or_path) in EXPORTERS or str(name_or_path) in TRAINED


def resolve_model(name_or_path: str | os.PathLike[str]) -> Path:
    """The package folder for a built-in name or a user-named path."""
    text = str(name_or_path)
    if is_builtin_model(text):
        return PACKAGES_DIR / text
    path = Path(text)
    if path.is_dir():
        return path
    raise UnknownNameError(
        f"model {text!r} is neither a built-in model ({', '.join(list_models())}) nor a package folder; "
        "name one of those or export a package with `fusion export-model`"
    )


def get_model(name_or_path: str | os.PathLike[str]) -> LoadedModel:
    return load_model_package(resolve_model(name_or_path))


def get_metadata(name_or_path: str | os.PathLike[str]) -> ModelMetadata:
    return read_metadata(resolve_model(name_or_path))


def get_exporter(name: str) -> Callable[..., Path]:
    """The exporter of built-in package ``name`` (its module imported now)."""
    if name in TRAINED:
        raise UnknownNameError(f"model {name!r} is trained, not exported; rebuild it with {TRAINED[name]}")
    if name not in EXPORTERS:
        raise UnknownNameError(f"no exporter for model {name!r}; choose one of {sorted(EXPORTERS)}")
    exporter: Callable[..., Path] = resolve_reference(EXPORTERS[name])
    return exporter


def export_model(name: str, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    return get_exporter(name)(path, **kwargs)


def get_trainer(name: str) -> TrainerEntry:
    """The trainer of learned model ``name``; unknown names raise :class:`UnknownNameError`."""
    if name not in TRAINERS:
        raise UnknownNameError(f"no trainer for model {name!r}; choose one of {', '.join(list_trainers())}")
    return TRAINERS[name]


__all__ = [
    "EXPORTERS",
    "PACKAGES_DIR",
    "TRAINED",
    "TRAINERS",
    "LoadedModel",
    "ModelMetadata",
    "TrainerEntry",
    "export_model",
    "get_exporter",
    "get_metadata",
    "get_model",
    "get_trainer",
    "list_models",
    "list_trainers",
    "resolve_model",
    "resolve_reference",
]
