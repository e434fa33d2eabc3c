"""FuseBlocks: Beam RunInference with the model package (one inference path for every model)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import ModelHandler, RunInference
from apache_beam.pvalue import PCollection

from fusion.blockio import stack_batch
from fusion.grid import crop_halo
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


class FusionModelHandler(ModelHandler[BlockPayload, BlockOutput, LoadedModel]):
    """Loads a model package once per worker process and fuses batches of equal-shaped blocks."""

    def __init__(self, model_path: str, max_batch_size: int = 4) -> None:
        super().__init__(min_batch_size=1, max_batch_size=max_batch_size)
        self.model_path = model_path
        self._max_batch_size = max_batch_size

    def load_model(self) -> LoadedModel:
        return load_model_package(self.model_path)

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return {"min_batch_size": 1, "max_batch_size": self._max_batch_size}

    def get_metrics_namespace(self) -> str:
        return NAMESPACE

    def get_num_bytes(self, batch: Sequence[BlockPayload]) -> int:
        return sum(sum(a.nbytes for a in p.inputs.arrays.values()) for p in batch)

    def run_inference(
        self, batch: Sequence[BlockPayload], model: LoadedModel, inference_args: dict[str, Any] | None = None
    ) -> Iterable[BlockOutput]:
        groups: dict[Any, list[BlockPayload]] = {}
        for payload in batch:
            groups.setdefault(payload.inputs.shape_key, []).append(payload)
        outputs: dict[int, BlockOutput] = {}
        for members in groups.values():
            fused = model.predict(stack_batch([m.inputs for m in members]))
            for payload, result in zip(members, fused, strict=True):
                block = payload.inputs.block
                core = crop_halo(np.moveaxis(result, -1, 0), block)
                valid = crop_halo(payload.inputs.output_valid, block) & np.all(np.isfinite(core), axis=0)
                outputs[id(payload)] = BlockOutput(
                    payload.spec, payload.tile, block, payload.inputs.n_blocks, core.astype(np.float32), valid
                )
        count("blocks_fused", len(batch))
        return [outputs[id(p)] for p in batch]


def failed_batch_record(element: tuple[Sequence[BlockPayload], Any]) -> DeadLetter:
    """Beam gives (failed batch, exception); one record names every block of it."""
    batch, error = element
    count("blocks_dead_lettered", len(batch))
    keys = sorted({p.key for p in batch})
    return dead_letter("inference", f"model failed on {len(batch)} block(s): {error}", key=",".join(keys))


@dataclass
class FuseBlocks(beam.PTransform[Any, Any]):
    model_path: str
    max_batch_size: int = 4

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, payloads: PCollection) -> dict[str, PCollection]:
        main, failed = (
            payloads
            | "RunInference"
            >> RunInference(
                FusionModelHandler(self.model_path, self.max_batch_size)
            ).with_exception_handling()
        )
        dead = failed.failed_inferences | "FailedInference" >> beam.Map(failed_batch_record)
        markers = failed.failed_inferences | "FailedBlocks" >> beam.FlatMap(
            lambda element: [
                BlockFailed(p.spec.product_id, p.inputs.block, p.inputs.n_blocks) for p in element[0]
            ]
        )
        return {MAIN: main, DEAD_LETTER: dead, FAILED_BLOCKS: markers}
