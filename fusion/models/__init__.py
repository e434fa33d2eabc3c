"""Model registry: built-in model packages shipped in the repository, and their exporters.

A model is named either by a built-in name (``fusion models`` lists them) or by the path of a
package folder. Built-in packages live in ``fusion/models/packages/<name>/`` and are rebuilt,
bit-for-bit in behaviour, by ``fusion export-model <name> --out fusion/models/packages/<name>``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fusion.errors import UnknownNameError
from fusion.models.bandpass import export_area_average, export_bandpass
from fusion.models.classical import export_naive, export_starfm
from fusion.models.package import LoadedModel, ModelMetadata, load_model_package, read_metadata

PACKAGES_DIR = Path(__file__).parent / "packages"

#: Built-in packages: name -> exporter(path) that rebuilds it.
EXPORTERS: dict[str, Callable[..., Path]] = {
    "starfm": export_starfm,
    "naive": export_naive,
    "bandpass": export_bandpass,
    "area-average": export_area_average,
}


#: Built-in learned packages: name -> how to rebuild it (they are trained, not exported).
TRAINED: dict[str, str] = {
    "dcstfn": "make dcstfn-package (see README, 'Reproduce the DCSTFN package')",
    "mgan": "make mgan-package (see README, 'Reproduce the MGAN package')",
}


def list_models() -> list[str]:
    return sorted({*EXPORTERS, *TRAINED})


def resolve_model(name_or_path: str | os.PathLike[str]) -> Path:
    """The package folder for a built-in name or a user-named path."""
    text = str(name_or_path)
    if text in EXPORTERS or text in TRAINED:
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


def export_model(name: str, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    if name in TRAINED:
        raise UnknownNameError(f"model {name!r} is trained, not exported; rebuild it with {TRAINED[name]}")
    if name not in EXPORTERS:
        raise UnknownNameError(f"no exporter for model {name!r}; choose one of {sorted(EXPORTERS)}")
    return EXPORTERS[name](path, **kwargs)


__all__ = [
    "LoadedModel",
    "ModelMetadata",
    "export_model",
    "get_metadata",
    "get_model",
    "list_models",
    "resolve_model",
]
