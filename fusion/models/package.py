"""Model packages: a TensorFlow SavedModel plus ``fusion-model.json`` (DESIGN.md §4).

The metadata is written in the spirit of the STAC MLM extension: task, the input tensors with
their roles (fine/coarse/valid), times (``t0``, ``tk1``, ``tk2``), resolution ratio and band
common names, the output tensor and bands, normalization, the halo the model needs, the number
of reference pairs it can use, parameters, training data and scores.

The serving signature takes float32 NHWC reflectance (``valid_*`` tensors: 1 = usable, 0 = not)
and returns the fused float32 NHWC reflectance under the output name. NaN never enters a model:
the pipeline fills invalid pixels and passes the masks. :func:`load_model_package` checks that
the SavedModel's signature matches the metadata and refuses a package that does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.errors import ModelPackageError

METADATA_FILE = "fusion-model.json"
SAVED_MODEL_DIR = "saved_model"
SCHEMA = "eo-fusion/model-package/1"
# Which roles and times an input may have is the task's to say (``FusionTask.check_model``, e.g.
# fine/coarse/valid at t0/tk1/tk2 for spatiotemporal, source/platform at t0 for harmonize): the
# pipeline checks a package against its task before it builds anything.


@dataclass(frozen=True)
class TensorSpecJson:
    """One input or output tensor of the serving signature."""

    name: str
    role: str  #: the task's input role (fine | coarse | valid, source | platform, ...)
    time: str  #: t0 | tk1 | tk2 | ...
    resolution_ratio: int  #: pixel size / fine pixel size (coarse: 16 for MODIS 480 m on Landsat 30 m)
    bands: tuple[str, ...]  #: common names, or ("valid",) for masks, or platforms (one-hot)
    #: ``source`` inputs only: the native pixel size in metres the pipeline reads them at
    #: (Sentinel-2 10 m / 20 m for a 30 m output), so no resampling happens before the model.
    pixel_size: float | None = None

    def __post_init__(self) -> None:
        if self.resolution_ratio < 1:
            raise ModelPackageError(f"tensor {self.name!r}: resolution_ratio must be >= 1")
        if self.role == "source" and (self.pixel_size is None or self.pixel_size <= 0):
            raise ModelPackageError(f"source tensor {self.name!r} needs a positive pixel_size (metres)")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if out["pixel_size"] is None:  # keeps the metadata of spatiotemporal packages unchanged
            del out["pixel_size"]
        return out


@dataclass(frozen=True)
class ModelMetadata:
    """The contents of ``fusion-model.json``."""

    name: str
    version: str
    task: str
    description: str
    bands: tuple[str, ...]  #: output bands, common names
    inputs: tuple[TensorSpecJson, ...]
    output: str = "fused"
    signature: str = "serving_default"
    halo: int = 0  #: fine pixels of context needed on every side of a block
    reference_pairs: tuple[int, int] = (1, 1)  #: (min, max) reference pairs used
    normalization: Mapping[str, Any] = field(default_factory=lambda: {"type": "none", "unit": "reflectance"})
    parameters: Mapping[str, Any] = field(default_factory=dict)
    framework: Mapping[str, str] = field(default_factory=dict)
    training: Mapping[str, Any] | None = None
    scores: Mapping[str, Any] | None = None
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        if not self.task:
            raise ModelPackageError(f"model {self.name!r}: metadata names no task")
        lo, hi = self.reference_pairs
        if not 1 <= lo <= hi <= 2:
            raise ModelPackageError(
                f"model {self.name!r}: reference_pairs {self.reference_pairs} not in 1..2"
            )

    @property
    def coarse_ratio(self) -> int:
        """The resolution ratio of the coarse inputs (1 when there are none)."""
        ratios = {s.resolution_ratio for s in self.inputs if s.role == "coarse"}
        if len(ratios) > 1:
            raise ModelPackageError(
                f"model {self.name!r}: coarse inputs disagree on resolution ratio {ratios}"
            )
        return ratios.pop() if ratios else 1

    def input(self, role: str, time: str) -> TensorSpecJson | None:
        found = [s for s in self.inputs if s.role == role and s.time == time]
        return found[0] if found else None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["inputs"] = [s.to_json() for s in self.inputs]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str = METADATA_FILE) -> ModelMetadata:
        try:
            if data.get("schema") != SCHEMA:
                raise ModelPackageError(
                    f"{source}: schema {data.get('schema')!r} is not {SCHEMA!r}; re-export the package "
                    "with this version of eo-fusion (`fusion export-model`)"
                )
            kwargs = dict(data)
            kwargs["bands"] = tuple(data["bands"])
            kwargs["inputs"] = tuple(
                TensorSpecJson(**{**s, "bands": tuple(s["bands"])}) for s in data["inputs"]
            )
            kwargs["reference_pairs"] = tuple(data.get("reference_pairs", (1, 1)))
            return cls(**kwargs)
        except (KeyError, TypeError) as exc:
            raise ModelPackageError(
                f"{source}: malformed model metadata ({exc}); re-export the package"
            ) from exc


def package_checksum(path: str | os.PathLike[str]) -> str:
    """sha256 over every file of the package (relative path and bytes, in sorted order)."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(file.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def read_metadata(path: str | os.PathLike[str]) -> ModelMetadata:
    meta_path = Path(path) / METADATA_FILE
    if not meta_path.is_file():
        raise ModelPackageError(
            f"{path} is not a model package: {METADATA_FILE} is missing; name a folder written by "
            "`fusion export-model` (or a built-in model: `fusion models`)"
        )
    try:
        data = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelPackageError(f"{meta_path} is not valid JSON ({exc})") from exc
    return ModelMetadata.from_json(data, str(meta_path))


def write_metadata(path: str | os.PathLike[str], metadata: ModelMetadata) -> Path:
    out = Path(path) / METADATA_FILE
    out.write_text(json.dumps(metadata.to_json(), indent=2, sort_keys=True) + "\n")
    return out


@dataclass
class LoadedModel:
    """A loaded, checked package: call :meth:`predict` with numpy NHWC arrays by input name."""

    path: Path
    metadata: ModelMetadata
    checksum: str
    function: Callable[..., Any]
    #: The loaded SavedModel object; kept so its variables live as long as ``function``.
    module: Any = None

    def predict(self, inputs: Mapping[str, npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
        import tensorflow as tf

        missing = [s.name for s in self.metadata.inputs if s.name not in inputs]
        if missing:
            raise ModelPackageError(f"model {self.metadata.name!r} needs inputs {missing}")
        feed = {s.name: tf.constant(inputs[s.name], tf.float32) for s in self.metadata.inputs}
        out = self.function(**feed)[self.metadata.output]
        result: npt.NDArray[np.float32] = out.numpy()
        return result


def check_signature(metadata: ModelMetadata, signature: Any, source: str) -> None:
    """Refuse a SavedModel whose serving signature does not match its metadata."""
    _, kw_specs = signature.structured_input_signature
    expected = {s.name: s for s in metadata.inputs}
    problems: list[str] = []
    if set(kw_specs) != set(expected):
        problems.append(f"signature inputs {sorted(kw_specs)} != metadata inputs {sorted(expected)}")
    for name, spec in kw_specs.items():
        meta = expected.get(name)
        if meta is None:
            continue
        if spec.dtype.name != "float32":
            problems.append(f"input {name!r} is {spec.dtype.name}, the contract is float32")
        if spec.shape.rank != 4:
            problems.append(f"input {name!r} has rank {spec.shape.rank}, the contract is NHWC (rank 4)")
        elif spec.shape[-1] is not None and spec.shape[-1] != len(meta.bands):
            problems.append(f"input {name!r} has {spec.shape[-1]} channels, metadata lists {len(meta.bands)}")
    outputs = signature.structured_outputs
    if metadata.output not in outputs:
        problems.append(f"signature outputs {sorted(outputs)} lack the metadata output {metadata.output!r}")
    else:
        out = outputs[metadata.output]
        if (
            out.shape.rank is not None
            and out.shape.rank == 4
            and out.shape[-1] not in (None, len(metadata.bands))
        ):
            problems.append(
                f"output has {out.shape[-1]} channels, metadata lists {len(metadata.bands)} bands"
            )
    if problems:
        raise ModelPackageError(
            f"model package {source} does not match its {METADATA_FILE}: "
            + "; ".join(problems)
            + ". Re-export it with `fusion export-model` or fix the metadata."
        )


def enable_gpu_memory_growth() -> list[str]:
    """Let TensorFlow grow GPU memory on demand instead of reserving all of it at start.

    Dataflow GPU workers run one SDK process per VM (``no_use_multiple_sdk_containers``); memory
    growth also keeps a second process (e.g. a restarted harness) from failing to allocate.
    Must run before the first op touches the GPU; later calls are harmless. Returns the GPUs seen.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # RuntimeError: already initialised, the setting it had stays.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    return [g.name for g in gpus]


def load_model_package(path: str | os.PathLike[str]) -> LoadedModel:
    """Load a model package and check its serving signature against its metadata."""
    import tensorflow as tf

    enable_gpu_memory_growth()
    root = Path(path)
    metadata = read_metadata(root)
    saved = root / SAVED_MODEL_DIR
    if not (saved / "saved_model.pb").is_file():
        raise ModelPackageError(f"{root}: {SAVED_MODEL_DIR}/saved_model.pb is missing; re-export the package")
    module = tf.saved_model.load(str(saved))
    if metadata.signature not in module.signatures:
        raise ModelPackageError(
            f"{root}: SavedModel has no signature {metadata.signature!r} (has {sorted(module.signatures)})"
        )
    signature = module.signatures[metadata.signature]
    check_signature(metadata, signature, str(root))
    return LoadedModel(root, metadata, package_checksum(root), signature, module)


def export_package(
    path: str | os.PathLike[str],
    metadata: ModelMetadata,
    function: Callable[..., Any],
    *,
    jit_compile: bool = True,
    track: Mapping[str, Any] | None = None,
) -> Path:
    """Export ``function`` (a ``tf.function`` taking the metadata's inputs as keyword tensors and
    returning ``{output: tensor}``) with its metadata as a model package at ``path``.

    ``jit_compile`` asks TensorFlow to compile the signature with XLA, which fuses the
    element-wise work of classical methods into one kernel per step (STARFM: ~15x on CPU).
    ``track``: objects holding the variables ``function`` uses (e.g. Keras models), saved with it."""
    import tensorflow as tf

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    specs = {
        s.name: tf.TensorSpec([None, None, None, len(s.bands)], tf.float32, name=s.name)
        for s in metadata.inputs
    }
    module = tf.Module()
    for attr, obj in (track or {}).items():
        setattr(module, attr, obj)
    module.serve = tf.function(function, jit_compile=jit_compile)
    concrete = module.serve.get_concrete_function(**specs)
    tf.saved_model.save(module, str(root / SAVED_MODEL_DIR), signatures={metadata.signature: concrete})
    full = ModelMetadata(
        **{
            **asdict(metadata),
            "inputs": metadata.inputs,
            "framework": {"name": "tensorflow", "version": tf.__version__},
        }
    )
    write_metadata(root, full)
    check_signature(
        full, tf.saved_model.load(str(root / SAVED_MODEL_DIR)).signatures[metadata.signature], str(root)
    )
    return root
