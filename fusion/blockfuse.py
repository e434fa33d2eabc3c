"""The block steps of one product, shared by the pipeline's stages and by ``fusion fuse-files``.

One inference path (DESIGN.md §4 "Model package"): a product's tile is cut into halo blocks
(:func:`plan_product_blocks`, the PlanBlocks stage), each block's inputs are read by the task
(:meth:`~fusion.tasks.base.FusionTask.block_inputs`, ReadBlocks), fused by the model package
(:meth:`~fusion.models.package.LoadedModel.predict`, FuseBlocks), checked and cropped back to
its core (:func:`fused_block`), and the cores are stitched into the tile
(:func:`stitch_blocks`, AssembleProducts). The Beam stages wrap these functions;
:func:`fuse_tile` runs the same steps one block after the other, in this process, for a
product that is not worth a pipeline (a user's own files, the Python API).

No Beam here: this module is science (``tests/test_layering.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fusion.blockio import BlockInputs, SceneReadCache, stack_batch
from fusion.errors import ModelPackageError
from fusion.grid import Block, Tile, crop_halo, plan_blocks
from fusion.models.package import LoadedModel, ModelMetadata
from fusion.pairing import FusionJob
from fusion.tasks.base import FusionTask

#: The largest absolute reflectance a model output may have on a valid pixel: surface
#: reflectance lies in about [-0.2, 1.6]; beyond 2 the model (or its package) is at fault.
PHYSICAL_RANGE = 2.0


def block_halo(metadata: ModelMetadata, align: int) -> int:
    """The model's halo rounded up to a multiple of the block alignment ``align``."""
    return -(-metadata.halo // align) * align


def plan_product_blocks(tile: Tile, metadata: ModelMetadata, block_size: int, align: int) -> list[Block]:
    """The halo blocks a product of ``tile`` is fused in (what PlanBlocks plans)."""
    return plan_blocks(*tile.shape, block_size, block_halo(metadata, align), align=align)


def output_fault(core: npt.NDArray[np.float32], valid: npt.NDArray[np.bool_]) -> str | None:
    """Why the fused ``core`` (B, h, w) is a model fault over its ``valid`` pixels, or None.

    A fault: no valid pixel with a finite value in every band, or a finite value beyond
    :data:`PHYSICAL_RANGE` on a valid pixel. A block without valid pixels is never one."""
    if not valid.any():
        return None
    finite = valid & np.all(np.isfinite(core), axis=0)
    if not finite.any():
        return f"model fault: output not finite on any of the block's {int(valid.sum())} valid pixels"
    peak = float(np.max(np.abs(core[:, finite])))
    if peak > PHYSICAL_RANGE:
        return f"model fault: output outside the physical range (max |value| {peak:.1f} > {PHYSICAL_RANGE:g})"
    return None


@dataclass(frozen=True)
class FusedBlock:
    """One block's fused core: (B, h, w) reflectance and the (h, w) pixels that are valid."""

    block: Block
    fused: npt.NDArray[np.float32]
    valid: npt.NDArray[np.bool_]

    @classmethod
    def empty(cls, block: Block, n_bands: int) -> FusedBlock:
        """A block with nothing to fuse (written as nodata)."""
        h, w = block.core.height, block.core.width
        return cls(block, np.zeros((n_bands, h, w), np.float32), np.zeros((h, w), bool))


def has_usable_core(inputs: BlockInputs) -> bool:
    """Whether the block's core has a pixel worth fusing (else it is nodata in the product)."""
    return bool(crop_halo(inputs.output_valid, inputs.block).any())


def fused_block(inputs: BlockInputs, result: npt.NDArray[np.float32]) -> FusedBlock | str:
    """The fused block (halo cropped, valid where the output is finite) from the model's
    (H, W, B) ``result`` on the read window, or the reason it is a model fault
    (:func:`output_fault`)."""
    block = inputs.block
    core = crop_halo(np.moveaxis(result, -1, 0), block).astype(np.float32, copy=False)
    usable: npt.NDArray[np.bool_] = crop_halo(inputs.output_valid, block).astype(bool)
    reason = output_fault(core, usable)
    if reason is not None:
        return reason
    valid = usable & np.all(np.isfinite(core), axis=0)
    return FusedBlock(block, core.astype(np.float32), valid)


def stitch_blocks(
    shape: tuple[int, int], n_bands: int, parts: Iterable[FusedBlock]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """The cores of a product's blocks placed into its ``shape`` tile: (B, H, W) reflectance
    (NaN where no block wrote) and the (H, W) valid mask."""
    height, width = shape
    data = np.full((n_bands, height, width), np.nan, np.float32)
    valid = np.zeros((height, width), bool)
    for part in parts:
        rows, cols = part.block.core.slices
        data[:, rows, cols] = part.fused
        valid[rows, cols] = part.valid
    return data, valid


def fuse_tile(
    task: FusionTask,
    job: FusionJob,
    tile: Tile,
    model: LoadedModel,
    block_size: int,
    align: int,
    *,
    product_id: str = "",
    progress: Callable[[str], None] | None = None,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Fuse ``job`` on ``tile`` block by block, in this process, with the steps of the pipeline's
    ReadBlocks, FuseBlocks and AssembleProducts: (B, H, W) reflectance and the valid mask.

    A read that fails raises its BlockReadError; a model fault raises ModelPackageError (the
    pipeline dead-letters both)."""
    metadata = model.metadata
    blocks = plan_product_blocks(tile, metadata, block_size, align)
    cache = SceneReadCache()
    parts: list[FusedBlock] = []
    for i, block in enumerate(blocks, start=1):
        inputs = task.block_inputs(job, tile, block, metadata, product_id, len(blocks), cache)
        if not has_usable_core(inputs):
            parts.append(FusedBlock.empty(block, len(metadata.bands)))
            what = "no usable pixels (nodata)"
        else:
            result = model.predict(stack_batch([inputs]))[0]
            fused = fused_block(inputs, result)
            if isinstance(fused, str):
                where = product_id or tile.id
                raise ModelPackageError(f"block {block.index} of {where}: {fused}; package {model.path}")
            parts.append(fused)
            what = f"{fused.valid.mean():.0%} valid"
        if progress is not None:
            progress(f"block {i}/{len(blocks)} {block.index}: {what}")
    return stitch_blocks(tile.shape, len(metadata.bands), parts)
