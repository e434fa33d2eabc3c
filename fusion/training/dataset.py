"""A training-set folder - written by ``fusion training-set`` (:mod:`pipelines.trainset`) or
for on-site training (:func:`fusion.evaluation.real.site_training_set`) - read back as
``tf.data``: ``manifest.json`` (bands, patch geometry, split, examples, labels, files) and
GZIP TFRecord files of :mod:`fusion.training.patches` examples per split.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusion.errors import ConfigError
from fusion.training.patches import parse_examples
from fusion.training.splits import SPLITS

#: A training set's ``labels`` when they are the target pairs' fine images (the seed's set-up;
#: every set built before ``--truth`` existed).
OBSERVED_LABELS = "fine observations"


@dataclass
class TrainingSet:
    """A training set folder written by ``fusion training-set``."""

    root: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> TrainingSet:
        root = Path(path)
        manifest = read_manifest(root, "fusion training-set --catalog ... --out DIR")
        if "examples" not in manifest:
            raise ConfigError(
                f"{root} is not a patch training set (schema {manifest.get('schema')!r}); "
                "build one with `fusion training-set` (--task spatiotemporal)"
            )
        # Training sets built before --truth existed have observed labels.
        manifest.setdefault("labels", OBSERVED_LABELS)
        for split in SPLITS:
            if not manifest["examples"].get(split):
                raise ConfigError(
                    f"training set {root} has no {split} examples; widen the period, lower "
                    "--min-valid or change the validation dates/area"
                )
        return cls(root, manifest)

    @classmethod
    def open_many(cls, paths: Sequence[str | Path]) -> TrainingSet:
        """Several training sets as one: their examples, validation split and dates together.

        They must share bands and patch geometry; the merged manifest lists every file by its
        full path and keeps each set's catalog and period."""
        sets = [cls.open(p) for p in paths]
        if len(sets) == 1:
            return sets[0]
        first = sets[0]
        for other in sets[1:]:
            for key in ("bands", "patch"):
                if other.manifest[key] != first.manifest[key]:
                    raise ConfigError(
                        f"training sets {first.root} and {other.root} differ in {key} "
                        f"({first.manifest[key]} vs {other.manifest[key]}); build them with the "
                        "same `fusion training-set` options"
                    )
        merged = dict(first.manifest)
        merged["files"] = {
            split: [str((s.root / f).resolve()) for s in sets for f in s.manifest["files"][split]]
            for split in SPLITS
        }
        merged["examples"] = {
            split: sum(int(s.manifest["examples"][split]) for s in sets) for split in SPLITS
        }
        merged["target_dates"] = {
            split: sorted({d for s in sets for d in s.manifest["target_dates"][split]}) for split in SPLITS
        }
        merged["catalog"] = [s.manifest["catalog"] for s in sets]
        merged["period"] = [s.manifest["period"] for s in sets]
        merged["split"] = [s.manifest["split"] for s in sets]
        merged["labels"] = [s.manifest["labels"] for s in sets]
        merged["sets"] = [str(s.root.resolve()) for s in sets]
        return cls(first.root, merged)

    @property
    def bands(self) -> list[str]:
        return list(self.manifest["bands"])

    def files(self, split: str) -> list[str]:
        return [str(self.root / f) for f in self.manifest["files"][split]]

    def dataset(self, split: str) -> Any:
        import tensorflow as tf

        patch = self.manifest["patch"]
        coarse, fine, bands = patch["coarse"], patch["fine"], len(self.bands)
        ds = tf.data.TFRecordDataset(self.files(split), compression_type="GZIP")
        return ds.map(lambda s: parse_examples(s, coarse, fine, bands), num_parallel_calls=2)


def read_manifest(root: Path, build: str) -> dict[str, Any]:
    """The ``manifest.json`` of the training-set folder ``root``; ``build`` is the command that
    makes one, named in the error when it is missing."""
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise ConfigError(f"{root} is not a training set: manifest.json is missing; build one with `{build}`")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    return manifest


def write_manifest(path: Any, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
