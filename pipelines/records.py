"""Typed records that travel between the fusion pipeline's stages, and the output tags.

Every stage returns ``dict[tag, PCollection]``: :data:`MAIN` for what the next stage takes,
:data:`DEAD_LETTER` for :class:`DeadLetter` records (and, where a stage has them, the other
tags below). Products and blocks are keyed by their product id (a string): no other key type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.blockio import BlockInputs
from fusion.grid import Block, Tile
from fusion.pairing import FusionJob
from fusion.publish import ProductSpec

#: Beam counters' namespace.
NAMESPACE = "eo-fusion"
#: What the next stage takes.
MAIN = "main"
#: :class:`DeadLetter` records: what a stage skipped or failed on, with the reason.
DEAD_LETTER = "dead_letter"
#: :class:`ProductRecord` of products finished by an earlier run (PlanBlocks).
EXISTING = "existing"
#: :class:`BlockOutput` of blocks with nothing to fuse, written as nodata (ReadBlocks).
EMPTY = "empty"
#: :class:`BlockFailed` markers of dead-lettered blocks, so AssembleProducts refuses their products.
FAILED_BLOCKS = "failed_blocks"


@dataclass(frozen=True)
class DeadLetter:
    """A skipped (a decision) or failed (an error) unit of work, or a broken earlier product
    that is redone, and why."""

    stage: str  #: assess | plan | read | inference | assemble | publish | ...
    #: ``failed``, ``skipped``, or ``redone`` (a product of an earlier run whose files do not
    #: check out, written again by this run)
    kind: str
    key: str  #: what it was: tile/scene, tile/date/scene, product/block, product
    reason: str
    asset: str | None = None  #: the href that failed or decided it, when there is one

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


#: :attr:`DeadLetter.kind` of a finished product found broken and written again.
REDONE = "redone"


def dead_letter(
    stage: str, reason: str, *, key: str = "", asset: str | None = None, kind: str = "failed"
) -> DeadLetter:
    return DeadLetter(stage=stage, kind=kind, key=key, reason=reason, asset=asset)


@dataclass(frozen=True)
class ProductRecord:
    """A product of the run: ``written`` now or ``exists`` from an earlier run; ``item`` is
    where its Item is (PublishStac lists it in the catalog)."""

    product_id: str
    status: str
    item: str | None = None
    valid_fraction: float | None = None
    model: str | None = None  #: the package that made it
    #: the model choice that picked ``model`` (``classical-auto``), when the request named one
    choice: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def product_record(
    spec: ProductSpec, status: str, item: str | None = None, valid_fraction: float | None = None
) -> ProductRecord:
    """The record of ``spec``'s product: ``written`` now or ``exists`` from an earlier run."""
    return ProductRecord(spec.product_id, status, item, valid_fraction, spec.model, spec.method_choice)


@dataclass(frozen=True)
class BlockJob:
    """One block of one product to read and fuse."""

    job: FusionJob
    tile: Tile
    spec: ProductSpec
    block: Block
    n_blocks: int

    @property
    def key(self) -> str:
        return block_key(self.spec.product_id, self.block)


def block_key(product_id: str, block: Block) -> str:
    return f"{product_id}/block-{block.index[0]}-{block.index[1]}"


@dataclass
class BlockPayload:
    """Model inputs plus what AssembleProducts needs to place the output."""

    inputs: BlockInputs
    spec: ProductSpec
    tile: Tile

    @property
    def key(self) -> str:
        return block_key(self.spec.product_id, self.inputs.block)


@dataclass
class BlockOutput:
    """A fused block, halo cropped."""

    spec: ProductSpec
    tile: Tile
    block: Block
    n_blocks: int
    fused: npt.NDArray[np.float32]  #: (B, h, w) core only
    valid: npt.NDArray[np.bool_]  #: (h, w) core only

    @property
    def product_id(self) -> str:
        return self.spec.product_id

    @classmethod
    def empty(cls, spec: ProductSpec, tile: Tile, block: Block, n_blocks: int) -> BlockOutput:
        h, w = block.core.height, block.core.width
        return cls(
            spec, tile, block, n_blocks, np.zeros((len(spec.bands), h, w), np.float32), np.zeros((h, w), bool)
        )


@dataclass(frozen=True)
class BlockFailed:
    """Tells AssembleProducts that a block of its product was dead-lettered upstream."""

    product_id: str
    block: Block
    n_blocks: int


def read_jsonl(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The records of JSON-lines files (a run's or a training set's report), in file order;
    a file that does not exist holds none."""
    return [
        json.loads(line)
        for path in paths
        if path.exists()
        for line in path.read_text().splitlines()
        if line.strip()
    ]
