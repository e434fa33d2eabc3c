"""FuseBlocks: Beam RunInference with the model package (one inference path for every model).

A block whose output is not physical reflectance - beyond
:data:`~fusion.blockfuse.PHYSICAL_RANGE` in absolute value, or not finite anywhere - over its
valid pixels is a model fault (:func:`fusion.blockfuse.output_fault`): it is dead-lettered
(stage ``inference``) and its product is not written, like a block the model failed on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import numpy as np
import numpy.typing as npt
from apache_beam.ml.inference.base import ModelHandler, RunInference
from apache_beam.pvalue import PCollection

from fusion.blockfuse import PHYSICAL_RANGE as PHYSICAL_RANGE  # re-exported: the stage's limit
from fusion.blockfuse import fused_block
from fusion.blockfuse import output_fault as output_fault  # re-exported: the stage's check
from fusion.blockio import stack_batch
from fusion.models import resolve_model
from fusion.models.package import LoadedModel, load_model_package
from pipelines.records import (
    DEAD_LETTER,
    FAILED_BLOCKS,
    MAIN,
    NAMESPACE,
    BlockFailed,
    BlockOutput,
    BlockPayload,
    DeadLetter,
    dead_letter,
)
from pipelines.stages.common import count


@dataclass(frozen=True)
class ModelFault:
    """A block the model fused into something that is not reflectance (see :func:`output_fault`)."""

    key: str
    failed: BlockFailed
    reason: str


class FusionModelHandler(ModelHandler[BlockPayload, "BlockOutput | ModelFault", LoadedModel]):
    """Loads a model package once per worker process and fuses batches of equal-shaped blocks."""

    def __init__(self, model_path: str, max_batch_size: int = 4) -> None:
        super().__init__(min_batch_size=1, max_batch_size=max_batch_size)
        #: a built-in model's name (resolved here, on the worker) or a package path
        self.model_path = model_path
        self._max_batch_size = max_batch_size

    def load_model(self) -> LoadedModel:
        return load_model_package(resolve_model(self.model_path))

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return {"min_batch_size": 1, "max_batch_size": self._max_batch_size}

    def get_metrics_namespace(self) -> str:
        return NAMESPACE

    def get_num_bytes(self, batch: Sequence[BlockPayload]) -> int:
        return sum(sum(a.nbytes for a in p.inputs.arrays.values()) for p in batch)

    def run_inference(
        self, batch: Sequence[BlockPayload], model: LoadedModel, inference_args: dict[str, Any] | None = None
    ) -> Iterable[BlockOutput | ModelFault]:
        groups: dict[Any, list[BlockPayload]] = {}
        for payload in batch:
            groups.setdefault(payload.inputs.shape_key, []).append(payload)
        outputs: dict[int, BlockOutput | ModelFault] = {}
        for members in groups.values():
            fused = model.predict(stack_batch([m.inputs for m in members]))
            for payload, result in zip(members, fused, strict=True):
                outputs[id(payload)] = block_output(payload, result)
        faults = sum(isinstance(o, ModelFault) for o in outputs.values())
        count("blocks_fused", len(batch) - faults)
        return [outputs[id(p)] for p in batch]


def block_output(payload: BlockPayload, result: npt.NDArray[np.float32]) -> BlockOutput | ModelFault:
    """The fused block (halo cropped, valid where the output is finite) from the model's (H, W, B)
    ``result`` on the read window, or a :class:`ModelFault` if it is not reflectance
    (:func:`fusion.blockfuse.fused_block`, which ``fusion fuse-files`` uses too)."""
    fused = fused_block(payload.inputs, result)
    if isinstance(fused, str):
        failed = BlockFailed(payload.spec.product_id, payload.inputs.block, payload.inputs.n_blocks)
        return ModelFault(payload.key, failed, f"{fused}; model package {payload.spec.model_href}")
    return BlockOutput(
        payload.spec, payload.tile, fused.block, payload.inputs.n_blocks, fused.fused, fused.valid
    )


def split_faults(output: BlockOutput | ModelFault) -> Iterator[Any]:
    """Fused blocks to MAIN; a model fault to DEAD_LETTER and FAILED_BLOCKS."""
    if isinstance(output, ModelFault):
        count("blocks_dead_lettered")
        count("blocks_model_fault")
        yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter("inference", output.reason, key=output.key))
        yield beam.pvalue.TaggedOutput(FAILED_BLOCKS, output.failed)
        return
    yield output


def failed_batch_record(element: tuple[Sequence[BlockPayload], Any]) -> DeadLetter:
    """Beam gives (failed batch, exception); one record names every block of it."""
    batch, error = element
    count("blocks_dead_lettered", len(batch))
    keys = sorted({p.key for p in batch})
    return dead_letter("inference", f"model failed on {len(batch)} block(s): {error}", key=",".join(keys))


def _by_package(payload: BlockPayload, n: int, refs: Sequence[str]) -> int:
    """The partition of a block: the package its product's spec names."""
    return list(refs).index(payload.spec.model_href)


@dataclass
class FuseBlocks(beam.PTransform[Any, Any]):
    """RunInference with the model package of each block's product.

    ``model_paths``: one package (a built-in name or a path) for every block, or - for a model
    choice - several, each block going to the one its product's spec names
    (``ProductSpec.model_href``), one RunInference each (each loads its own package once per
    worker process)."""

    model_paths: str | tuple[str, ...]
    max_batch_size: int = 4

    def __post_init__(self) -> None:
        super().__init__()
        if isinstance(self.model_paths, str):
            self.model_paths = (self.model_paths,)
        if not self.model_paths:
            raise ValueError("FuseBlocks needs at least one model package")

    def expand(self, payloads: PCollection) -> dict[str, PCollection]:
        refs = tuple(self.model_paths)
        if len(refs) == 1:  # the labels of one package's graph stay as they were
            branches = [("", refs[0], payloads)]
        else:
            parts = payloads | "ByPackage" >> beam.Partition(_by_package, len(refs), refs)  # type: ignore[arg-type]
            branches = [(f"[{ref if '/' not in ref else k}]", ref, parts[k]) for k, ref in enumerate(refs)]
        dead_parts, marker_parts, main_parts = [], [], []
        for suffix, ref, part in branches:
            results, failed = (
                part
                | f"RunInference{suffix}"
                >> RunInference(FusionModelHandler(ref, self.max_batch_size)).with_exception_handling()
            )
            checked = results | f"CheckOutputs{suffix}" >> beam.FlatMap(split_faults).with_outputs(
                DEAD_LETTER, FAILED_BLOCKS, main=MAIN
            )
            dead_parts += [
                failed.failed_inferences | f"FailedInference{suffix}" >> beam.Map(failed_batch_record),
                checked[DEAD_LETTER],
            ]
            marker_parts += [
                failed.failed_inferences
                | f"FailedBlocks{suffix}"
                >> beam.FlatMap(
                    lambda element: [
                        BlockFailed(p.spec.product_id, p.inputs.block, p.inputs.n_blocks) for p in element[0]
                    ]
                ),
                checked[FAILED_BLOCKS],
            ]
            main_parts.append(checked[MAIN])
        main = main_parts[0] if len(main_parts) == 1 else tuple(main_parts) | "Fused" >> beam.Flatten()
        return {
            MAIN: main,
            DEAD_LETTER: tuple(dead_parts) | "DeadLetters" >> beam.Flatten(),
            FAILED_BLOCKS: tuple(marker_parts) | "AllFailedBlocks" >> beam.Flatten(),
        }
