"""Model packages: a TensorFlow SavedModel plus ``fusion-model.json`` (DESIGN.md §4).

The metadata is written in the spirit of the STAC MLM extension: task, the input tensors with
their roles (fine/coarse/valid), times (``t0``, ``tk1``, ``tk2``), resolution ratio and band
common names, the output tensor and bands, normalization, the halo the model needs, the number
of reference pairs it can use, parameters, training data and scores.

The serving signature takes float32 NHWC reflectance (``valid_*`` tensors: 1 = usable, 0 = not)
and returns the fused float32 NHWC reflectance under the output name. NaN never enters a model:
the pipeline fills invalid pixels and passes the masks. :func:`load_model_package` checks that
the SavedModel's signature matches the metadata and refuses a package that does not.

Every field of the metadata is checked on reading (a fault names the field, the file and the
fix). ``checksums.json`` (:data:`MANIFEST_FILE`, written last by :func:`export_package`) holds the
sha256 of every other file of the package; :func:`verify_package` (no TensorFlow, cheap enough to
run before a pipeline is built) and :func:`load_model_package` refuse a package with a file
changed, missing or added since, or without a manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
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


#: ``name`` and ``task``: lower-case letters, digits, ``.``, ``_``, ``-``; they become parts of
#: product ids and output paths, so no slash, no ``..`` and nothing absolute.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,31}$")
#: The largest halo a package may ask for (fine pixels on every side of a block).
MAX_HALO = 4096


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field_error(field_name: str, value: object, rule: str, where: str = "") -> ModelPackageError:
    return ModelPackageError(f"field {field_name!r}{where} is {value!r}: {rule}")


def _check_name(field_name: str, value: object, pattern: re.Pattern[str], where: str = "") -> None:
    if not isinstance(value, str) or not pattern.match(value) or ".." in value:
        raise _field_error(
            field_name,
            value,
            f"it must match {pattern.pattern} (no '/', no '..', not an absolute path)",
            where,
        )


def _as_tuple(obj: object, attr: str) -> None:
    """Store a list given for a tuple field of frozen dataclass ``obj`` as a tuple."""
    value = getattr(obj, attr)
    if isinstance(value, list):
        object.__setattr__(obj, attr, tuple(value))


def _check_bands(field_name: str, value: object, where: str = "") -> None:
    if not isinstance(value, tuple) or not value:
        raise _field_error(field_name, value, "it must be a non-empty list of band names", where)
    bad = [b for b in value if not isinstance(b, str) or not b.strip()]
    if bad:
        raise _field_error(field_name, value, f"band names must be non-empty strings, not {bad}", where)
    if len(set(value)) != len(value):
        raise _field_error(field_name, value, "band names must be distinct", where)


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
        if not isinstance(self.name, str) or not self.name.strip():
            raise _field_error("inputs[].name", self.name, "it must be a non-empty tensor name")
        where = f" of input {self.name!r}"
        _as_tuple(self, "bands")
        for attr in ("role", "time"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value.strip():
                raise _field_error(attr, value, "it must be a non-empty string", where)
        if not _is_int(self.resolution_ratio) or self.resolution_ratio < 1:
            raise _field_error("resolution_ratio", self.resolution_ratio, "it must be an integer >= 1", where)
        _check_bands("bands", self.bands, where)
        if self.pixel_size is not None and (
            isinstance(self.pixel_size, bool)
            or not isinstance(self.pixel_size, int | float)
            or not math.isfinite(self.pixel_size)
            or self.pixel_size <= 0
        ):
            raise _field_error("pixel_size", self.pixel_size, "it must be a positive number (metres)", where)
        if self.role == "source" and self.pixel_size is None:
            raise _field_error(
                "pixel_size", self.pixel_size, "a source input needs a positive pixel_size (metres)", where
            )

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
        for attr in ("bands", "inputs", "reference_pairs"):
            _as_tuple(self, attr)
        _check_name("name", self.name, NAME_PATTERN)
        _check_name("version", self.version, VERSION_PATTERN)
        if not self.task:
            raise _field_error("task", self.task, "the metadata names no task")
        _check_name("task", self.task, NAME_PATTERN)
        if not isinstance(self.description, str):
            raise _field_error("description", self.description, "it must be a string")
        _check_bands("bands", self.bands)
        if not isinstance(self.inputs, tuple) or not self.inputs:
            raise _field_error("inputs", self.inputs, "it must be a non-empty list of input tensors")
        if not all(isinstance(s, TensorSpecJson) for s in self.inputs):
            raise _field_error("inputs", self.inputs, "every input must be a tensor description")
        names = [s.name for s in self.inputs]
        if len(set(names)) != len(names):
            raise _field_error("inputs", names, "input names must be distinct")
        for attr in ("output", "signature"):
            value = getattr(self, attr)
            if not isinstance(value, str) or not value.strip():
                raise _field_error(attr, value, "it must be a non-empty string")
        if not _is_int(self.halo) or not 0 <= self.halo <= MAX_HALO:
            raise _field_error(
                "halo",
                self.halo,
                f"it must be an integer from 0 to {MAX_HALO} (fine pixels of context around a block)",
            )
        pairs = self.reference_pairs
        if (
            not isinstance(pairs, tuple)
            or len(pairs) != 2
            or not all(_is_int(v) for v in pairs)
            or not 1 <= pairs[0] <= pairs[1] <= 2
        ):
            raise _field_error("reference_pairs", pairs, "it must be [min, max] with 1 <= min <= max <= 2")
        for attr in ("normalization", "parameters", "framework"):
            if not isinstance(getattr(self, attr), Mapping):
                raise _field_error(attr, getattr(self, attr), "it must be a JSON object")
        for attr in ("training", "scores"):
            value = getattr(self, attr)
            if value is not None and not isinstance(value, Mapping):
                raise _field_error(attr, value, "it must be a JSON object or null")

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
        fix = f"Fix {METADATA_FILE} or re-export the package with `fusion export-model`."
        if not isinstance(data, Mapping):
            raise ModelPackageError(
                f"{source}: model metadata must be a JSON object, not {type(data).__name__}. {fix}"
            )
        if data.get("schema") != SCHEMA:
            raise ModelPackageError(
                f"{source}: schema {data.get('schema')!r} is not {SCHEMA!r}; re-export the package "
                "with this version of eo-fusion (`fusion export-model`)"
            )
        try:
            kwargs = _known_fields(cls, data, "")
            kwargs["bands"] = _json_list(data["bands"], "bands")
            kwargs["inputs"] = tuple(
                _tensor_from_json(s, i) for i, s in enumerate(_json_list(data["inputs"], "inputs"))
            )
            if "reference_pairs" in data:
                kwargs["reference_pairs"] = _json_list(data["reference_pairs"], "reference_pairs")
            return cls(**kwargs)
        except ModelPackageError as exc:
            raise ModelPackageError(f"{source}: {exc}. {fix}") from exc


def _known_fields(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``data`` as keyword arguments of dataclass ``cls``: unknown or missing fields are refused."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise ModelPackageError(f"unknown field(s) {unknown}{where} (fields: {sorted(known)})")
    required = [
        name
        for name, f in known.items()
        if f.default is MISSING and f.default_factory is MISSING and name not in data
    ]
    if required:
        raise ModelPackageError(f"required field(s) {required}{where} missing")
    return dict(data)


def _json_list(value: Any, field_name: str, where: str = "") -> tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise _field_error(field_name, value, "it must be a JSON list", where)
    return tuple(value)


def _tensor_from_json(spec: Any, index: int) -> TensorSpecJson:
    where = f" of inputs[{index}]"
    if not isinstance(spec, Mapping):
        raise ModelPackageError(f"inputs[{index}] is {spec!r}: it must be a JSON object")
    kwargs = _known_fields(TensorSpecJson, spec, where)
    kwargs["bands"] = _json_list(spec["bands"], "bands", where)
    return TensorSpecJson(**kwargs)


def package_checksum(path: str | os.PathLike[str]) -> str:
    """sha256 over every file of the package (relative path and bytes, in sorted order) but its
    manifest: the manifest only restates these files, and leaving it out keeps product ids of
    packages exported before manifests existed unchanged."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(
        p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() != MANIFEST_FILE
    ):
        digest.update(file.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def read_metadata(path: str | os.PathLike[str]) -> ModelMetadata:
    """The package's checked metadata (its files are not verified: :func:`verify_package`)."""
    meta_path = Path(path) / METADATA_FILE
    if not meta_path.is_file():
        raise ModelPackageError(
            f"{path} is not a model package: {METADATA_FILE} is missing; name a folder written by "
            "`fusion export-model` (or a built-in model: `fusion models`)"
        )
    try:
        data = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelPackageError(
            f"{meta_path} is not valid JSON ({exc}); restore the package or re-export it with "
            "`fusion export-model`"
        ) from exc
    except OSError as exc:
        raise ModelPackageError(f"{meta_path} cannot be read ({exc})") from exc
    return ModelMetadata.from_json(data, str(meta_path))


def write_metadata(path: str | os.PathLike[str], metadata: ModelMetadata) -> Path:
    out = Path(path) / METADATA_FILE
    out.write_text(json.dumps(metadata.to_json(), indent=2, sort_keys=True) + "\n")
    return out


# ------------------------------------------------------------------ integrity manifest

#: The package's manifest: the sha256 of every other file of the package, by relative path.
MANIFEST_FILE = "checksums.json"
MANIFEST_SCHEMA = "eo-fusion/model-package-checksums/1"
_RESTORE = (
    "restore the package (e.g. `git checkout -- PATH` for a built-in one, or copy it again) or "
    "re-export it with `fusion export-model` (learned models: `fusion train`)"
)


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_manifest(path: str | os.PathLike[str]) -> dict[str, str]:
    """sha256 by relative (POSIX) path of every file of the package but the manifest itself."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {rel: file_sha256(p) for p in files if (rel := p.relative_to(root).as_posix()) != MANIFEST_FILE}


def write_manifest(path: str | os.PathLike[str]) -> Path:
    """Write the package's :data:`MANIFEST_FILE` from the files it holds now.

    :func:`export_package` calls it last; run it by hand only on a package whose files you trust
    (e.g. one exported before packages carried a manifest)."""
    out = Path(path) / MANIFEST_FILE
    manifest = {"schema": MANIFEST_SCHEMA, "algorithm": "sha256", "files": package_manifest(path)}
    out.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out


def read_manifest(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``files`` map of the package's manifest; a missing or malformed one is refused."""
    root = Path(path)
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ModelPackageError(
            f"{root}: {MANIFEST_FILE} is missing, so the package's files cannot be checked; "
            f"re-export it with `fusion export-model` (learned models: `fusion train`), or, for a "
            'package whose files you trust, write one with `python -c "from fusion.models.package '
            f"import write_manifest; write_manifest('{root}')\"`"
        )
    try:
        data = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ModelPackageError(f"{manifest_path} cannot be read as JSON ({exc}); {_RESTORE}") from exc
    files = data.get("files") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("schema") != MANIFEST_SCHEMA
        or data.get("algorithm") != "sha256"
        or not isinstance(files, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
    ):
        raise ModelPackageError(
            f"{manifest_path} is not an {MANIFEST_SCHEMA!r} manifest (schema, algorithm 'sha256' and a "
            f"'files' map of relative path -> sha256); {_RESTORE}"
        )
    return dict(files)


def verify_manifest(path: str | os.PathLike[str]) -> None:
    """Refuse a package whose files differ from its manifest: a file whose sha256 differs, a
    file the manifest lists that is missing, or a file it does not list."""
    root = Path(path)
    expected = read_manifest(root)
    actual = package_manifest(root)
    problems = [
        f"{rel}: sha256 differs from {MANIFEST_FILE}"
        for rel in sorted(expected.keys() & actual.keys())
        if expected[rel] != actual[rel]
    ]
    problems += [
        f"{rel}: missing (listed in {MANIFEST_FILE})" for rel in sorted(expected.keys() - actual.keys())
    ]
    problems += [
        f"{rel}: not listed in {MANIFEST_FILE} (an extra file)"
        for rel in sorted(actual.keys() - expected.keys())
    ]
    if problems:
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
        raise ModelPackageError(
            f"model package {root} was changed after export: {shown}. Do not use it: {_RESTORE}"
        )


def verify_package(path: str | os.PathLike[str]) -> ModelMetadata:
    """Check a package without TensorFlow, before a pipeline is built: its metadata, that the
    SavedModel's files are there, and every file against the manifest. Returns the metadata."""
    root = Path(path)
    metadata = read_metadata(root)
    saved = root / SAVED_MODEL_DIR
    for rel, is_there in (
        (f"{SAVED_MODEL_DIR}/saved_model.pb", (saved / "saved_model.pb").is_file()),
        (f"{SAVED_MODEL_DIR}/variables/", (saved / "variables").is_dir()),
    ):
        if not is_there:
            raise ModelPackageError(f"{root}: {rel} is missing; {_RESTORE}")
    verify_manifest(root)
    return metadata


def _load_saved_model(root: Path) -> Any:
    """``tf.saved_model.load`` of the package's SavedModel; what TensorFlow cannot read is
    refused naming the file."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    saved = root / SAVED_MODEL_DIR
    pb = saved / "saved_model.pb"
    try:
        saved_model_pb2.SavedModel().ParseFromString(pb.read_bytes())
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        raise ModelPackageError(
            f"{pb} is corrupted or truncated: it is not a SavedModel protocol buffer ({exc}); {_RESTORE}"
        ) from exc
    try:
        return tf.saved_model.load(str(saved))
    except Exception as exc:  # TensorFlow raises OSError, OpError, ValueError, ... for bad files
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError) and "saved_model.pb" in str(exc):
            culprit = str(pb)
        elif "variables" in str(exc) or isinstance(exc, tf.errors.OpError):
            culprit = f"{saved / 'variables'} (variables.index, variables.data-*)"
        else:
            culprit = str(saved)
        raise ModelPackageError(
            f"{culprit}: TensorFlow cannot load the SavedModel ({type(exc).__name__}: {message}); {_RESTORE}"
        ) from exc


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
    """Load a model package: its metadata and files are verified (:func:`verify_package`) and
    its serving signature checked against the metadata; any fault is a ModelPackageError."""
    enable_gpu_memory_growth()
    root = Path(path)
    metadata = verify_package(root)
    module = _load_saved_model(root)
    signatures = getattr(module, "signatures", {})
    if metadata.signature not in signatures:
        raise ModelPackageError(
            f"{root}: SavedModel has no signature {metadata.signature!r} (has {sorted(signatures)}); "
            f"fix `signature` in {METADATA_FILE} or re-export the package with `fusion export-model`"
        )
    signature = signatures[metadata.signature]
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
    # An earlier export's files must not stay behind (the manifest would list them).
    for stale in (root / SAVED_MODEL_DIR, root / MANIFEST_FILE):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
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
    write_manifest(root)
    return root
