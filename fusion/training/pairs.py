"""A pair training set: whole-tile input/target pairs of a task whose training set is ``pairs``
(:attr:`fusion.tasks.base.FusionTask.training_set`, e.g. ``harmonize``), written by
``fusion training-set --task TASK`` (:mod:`pipelines.pairset`) and read by its trainers.

Layout of the folder:

* ``pairs/<tile>_<date>_<source scene>.npz`` - one pair: every model input by name, ``target``
  and ``usable`` (NumPy's own format, uncompressed: the arrays come back byte for byte);
* ``index-*.jsonl`` - one line per pair written (:func:`pair_record`);
* ``dead-letter.jsonl`` - every scene or pair left out, with the stage and reason;
* ``manifest.json`` - task, catalog, period, tiles, ``min_clear``, the pairs in the order a
  trainer takes them (tile, date, source scene), dead letters, counters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.errors import ConfigError
from fusion.tasks.base import PairRead, TrainingPair
from fusion.training.dataset import read_manifest

SCHEMA = "eo-fusion/pairset/1"
PAIRS_DIR = "pairs"
#: Array names of a pair file besides the model inputs.
TARGET = "target"
USABLE = "usable"


def pair_order(record: dict[str, Any]) -> tuple[str, str, str]:
    """The order a trainer takes the pairs in: by tile, date, source scene."""
    return (record["tile"], record["date"], record["source_id"])


def pair_file_name(pair: TrainingPair) -> str:
    """A file name unique per (tile, date, source scene), safe on every file system."""
    name = f"{pair.tile_id}_{pair.date.isoformat()}_{pair.source.scene.id}"
    return re.sub(r"[^A-Za-z0-9._-]", "-", name) + ".npz"


def pair_record(pair: TrainingPair, read: PairRead, file: str) -> dict[str, Any]:
    """The index line of a written pair."""
    return {
        "key": f"{pair.tile_id}/{pair.date.isoformat()}",
        "tile": pair.tile_id,
        "date": pair.date.isoformat(),
        "source_id": pair.source.scene.id,
        "source_date": pair.source.date.isoformat(),
        "source_clear": round(pair.source.clear_fraction, 6),
        "target_id": pair.target.scene.id,
        "target_date": pair.target.date.isoformat(),
        "target_clear": round(pair.target.clear_fraction, 6),
        "attributes": dict(read.attributes),
        "arrays": {
            name: list(a.shape)
            for name, a in (*read.inputs.items(), (TARGET, read.target), (USABLE, read.usable))
        },
        "usable": round(float(read.usable.mean()), 6),
        "file": file,
    }


def write_pair(root: str | Path, pair: TrainingPair, read: PairRead) -> dict[str, Any]:
    """Write ``read`` as ``root/pairs/<name>.npz`` (a temporary name first, then the final one);
    returns its index record."""
    clash = {TARGET, USABLE} & set(read.inputs)
    if clash:
        raise ConfigError(f"a model input may not be named {', '.join(sorted(clash))} in a pair training set")
    folder = Path(root) / PAIRS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = pair_file_name(pair)
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    with tmp.open("wb") as f:
        np.savez(f, allow_pickle=False, **read.inputs, **{TARGET: read.target, USABLE: read.usable})
    tmp.replace(folder / name)
    return pair_record(pair, read, f"{PAIRS_DIR}/{name}")


@dataclass
class PairSet:
    """A pair training set folder (:func:`PairSet.open`)."""

    root: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> PairSet:
        root = Path(path)
        manifest = read_manifest(root, "fusion training-set --task harmonize --catalog ... --out DIR")
        if manifest.get("schema") != SCHEMA:
            raise ConfigError(
                f"{root} is not a pair training set (schema {manifest.get('schema')!r}, not {SCHEMA!r}); "
                "build one with `fusion training-set --task harmonize`"
            )
        return cls(root, manifest)

    @property
    def task(self) -> str:
        return str(self.manifest["task"])

    @property
    def records(self) -> list[dict[str, Any]]:
        """The pairs' index records, in the order a trainer takes them."""
        return sorted(self.manifest["pairs"], key=pair_order)

    def arrays(self, record: dict[str, Any]) -> dict[str, npt.NDArray[Any]]:
        """Every array of one pair: the model inputs by name, ``target`` and ``usable``."""
        path = self.root / record["file"]
        if not path.is_file():
            raise ConfigError(
                f"training set {self.root}: pair file {record['file']} is missing; rebuild the set"
            )
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}

    def __iter__(self) -> Iterator[tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]]:
        for record in self.records:
            yield record, self.arrays(record)

    def __len__(self) -> int:
        return len(self.manifest["pairs"])
