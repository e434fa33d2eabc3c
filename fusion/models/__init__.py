"""Model registry: built-in model packages shipped in the repository, their exporters and the
trainers of the learned ones.

A model is named either by a built-in name (``fusion models`` lists them) or by the path of a
package folder; a model *choice* (:data:`CHOICES`, e.g. ``classical-auto``) names a rule that
picks one built-in package per product (:mod:`fusion.models.auto`) and is not a package itself.
Built-in packages live in ``fusion/models/packages/<name>/`` and are rebuilt, bit-for-bit in
behaviour, by ``fusion export-model <name> --out fusion/models/packages/<name>``
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
from typing import TYPE_CHECKING, Any

from fusion.errors import UnknownNameError
from fusion.models.package import LoadedModel, ModelMetadata, load_model_package, read_metadata

if TYPE_CHECKING:
    from fusion.models.auto import BracketingChoice

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


#: Model choices: name -> ``"module:attribute"`` of the choice, which picks one of its built-in
#: packages per product (the fusion pipeline takes them; where one package is needed,
#: :func:`resolve_model` refuses them).
CHOICES: dict[str, str] = {
    "classical-auto": "fusion.models.auto:CLASSICAL_AUTO",
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


def list_choices() -> list[str]:
    """Names of the model choices, sorted (not packages: see :data:`CHOICES`)."""
    return sorted(CHOICES)


def is_model_choice(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether ``name_or_path`` names a model choice (``classical-auto``), not a package."""
    return str(name_or_path) in CHOICES


def get_choice(name: str) -> BracketingChoice:
    """The model choice ``name`` (its module imported now)."""
    if name not in CHOICES:
        raise UnknownNameError(f"no model choice {name!r}; choose one of {', '.join(list_choices())}")
    choice: BracketingChoice = resolve_reference(CHOICES[name])
    return choice


def _choice_is_no_package(name: str) -> UnknownNameError:
    packages = get_choice(name).packages
    return UnknownNameError(
        f"model {name!r} picks a package per product ({', '.join(packages)}) and is not one package; "
        f"where one package is needed (fuse-files, the Python API) name "
        f"{' or '.join(packages)}; "
        f"`fusion run` and `fusion demo --models` take {name}"
    )


def list_trainers() -> list[str]:
    """Names of the models ``get_trainer`` knows, sorted."""
    return sorted(TRAINERS)


def is_builtin_model(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether ``name_or_path`` names a package shipped with eo-fusion (not a folder path)."""
    return str(name_or_path) in EXPORTERS or str(name_or_path) in TRAINED


def resolve_model(name_or_path: str | os.PathLike[str]) -> Path:
    """The package folder for a built-in name or a user-named path."""
    text = str(name_or_path)
    if is_model_choice(text):
        raise _choice_is_no_package(text)
    if is_builtin_model(text):
        return PACKAGES_DIR / text
    path = Path(text)
    if path.is_dir():
        return path
    raise UnknownNameError(
        f"model {text!r} is neither a built-in model ({', '.join(list_models())}), a model choice "
        f"({', '.join(list_choices())}) nor a package folder; "
        "name one of those or export a package with `fusion export-model`"
    )


def get_model(name_or_path: str | os.PathLike[str]) -> LoadedModel:
    return load_model_package(resolve_model(name_or_path))


def get_metadata(name_or_path: str | os.PathLike[str]) -> ModelMetadata:
    return read_metadata(resolve_model(name_or_path))


def get_exporter(name: str) -> Callable[..., Path]:
    """The exporter of built-in package ``name`` (its module imported now)."""
    if name in CHOICES:
        first, *_ = packages = get_choice(name).packages
        raise UnknownNameError(
            f"model {name!r} is a choice between the packages {', '.join(packages)}, not a package: "
            f"export each of them, e.g. `fusion export-model {first} --out fusion/models/packages/{first}`"
        )
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
    "CHOICES",
    "EXPORTERS",
    "PACKAGES_DIR",
    "TRAINED",
    "TRAINERS",
    "LoadedModel",
    "ModelMetadata",
    "TrainerEntry",
    "export_model",
    "get_choice",
    "get_exporter",
    "get_metadata",
    "get_model",
    "get_trainer",
    "is_model_choice",
    "list_choices",
    "list_models",
    "list_trainers",
    "resolve_model",
    "resolve_reference",
]
