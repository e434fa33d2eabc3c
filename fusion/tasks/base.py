"""The task contract (DESIGN.md §4 "Task"): what a fusion task owns, so the pipeline never asks
which task it runs.

A task is a registered object (:mod:`fusion.tasks`) that knows

* its **input roles** and their default collections (:attr:`FusionTask.roles`), and which
  roles' scenes define the output grid;
* the **search window** for a request (:meth:`FusionTask.search_period`) and which roles are
  searched (targets, e.g. Landsat for scoring a harmonize model, only ``with_targets``);
* the **QA reduction** per role (:meth:`FusionTask.qa_factors`): how much coarser than the
  output grid a scene's QA is read to compute its clear fraction on a tile;
* **job planning** from the assessed observations of one tile (:meth:`FusionTask.jobs`), with a
  :class:`~fusion.pairing.Skip` and a reason for every date it does not fuse;
* **block alignment** (:meth:`FusionTask.block_alignment`): block, halo and tile sizes are
  multiples of it;
* **reading a block's inputs** by walking the model's declared input specs, each spec's own
  role, time and bands (:meth:`FusionTask.read_block`);
* the **input items** of a job for lineage (:meth:`FusionTask.lineage`), and its **metrics**;
* the kind of **training set** ``fusion training-set`` builds for it
  (:attr:`FusionTask.training_set`): aligned patch examples (``patches``, the spatiotemporal
  set of :mod:`fusion.training.jobs`), or whole-tile input/target pairs (``pairs``) that the
  task forms (:meth:`FusionTask.training_pairs`) and reads (:meth:`FusionTask.read_training_pair`).

Tasks are science: they import nothing of Beam or of the pipelines. The generic stages call
them with plain records (observations, jobs, tiles, blocks, model metadata).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from fusion.blockio import BlockInputs, BoolArray, FloatArray, SceneReadCache
from fusion.errors import ConfigError, ModelPackageError
from fusion.grid import Block, Tile
from fusion.models.package import ModelMetadata
from fusion.pairing import FusionJob, Observation, PairingConfig, Skip

#: The input item of a product, for lineage: (role, item id, item href).
InputItem = tuple[str, str, str | None]


@dataclass(frozen=True)
class Role:
    """One kind of input scene of a task."""

    name: str  #: e.g. ``fine``, ``coarse``, ``source``
    collection: str  #: the default collection id its scenes come from
    #: its scenes choose the output grid (CRS) and, without an AOI, the output tiles
    defines_grid: bool = False
    #: searched only with ``with_targets`` (the observed image a model is trained or scored on)
    target_only: bool = False
    description: str = ""


@dataclass(frozen=True)
class JobLineage:
    """What a product records of the job it came from."""

    input_items: tuple[InputItem, ...]
    start_datetime: dt.datetime
    end_datetime: dt.datetime
    reference_dates: tuple[dt.date, ...] = ()
    #: the input scenes' collections (the products' providers and licences come from them)
    input_collections: tuple[str, ...] = ()
    #: the sensor (a :mod:`fusion.sensors` name) whose bands the products stand for; their
    #: wavelengths go into the COG and the Item. None: bands named only.
    output_sensor: str | None = None


@dataclass(frozen=True)
class BlockRead:
    """The model inputs of one block as a task read them."""

    arrays: dict[str, FloatArray]  #: input name -> (H, W, C) float32, no NaN (one-hot inputs (1, 1, C))
    output_valid: BoolArray  #: (H, W) on the read window: where the fused output is meaningful
    bytes_read: int = 0
    notes: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingPair:
    """An input observation and the target observation (of about the same day, on the same
    tile) that a model of the task learns to turn it into."""

    source: Observation  #: what the model reads
    target: Observation  #: what it should produce

    @property
    def date(self) -> dt.date:
        return self.source.date

    @property
    def tile_id(self) -> str:
        return self.source.tile_id


@dataclass
class PairRead:
    """A :class:`TrainingPair` read whole on its tile."""

    inputs: dict[str, FloatArray]  #: model input name -> (h, w, C) at its own pixel size, NaN where unusable
    target: FloatArray  #: (H, W, C) the target scene in the task's output bands, NaN where unusable
    usable: BoolArray  #: (H, W) on the output grid: usable in every input and in the target
    #: what a trainer needs to know of the pair besides pixels (e.g. the source's platform)
    attributes: dict[str, str] = field(default_factory=dict)


#: The kinds of training set ``fusion training-set`` builds (:attr:`FusionTask.training_set`).
PATCH_TRAINING_SET = "patches"
PAIR_TRAINING_SET = "pairs"


class FusionTask(ABC):
    """One fusion task (DESIGN.md §2). Subclass it, set the class attributes, implement the
    abstract methods and :func:`fusion.tasks.register_task` an instance."""

    #: the task id (``FusionRequest.task``, ``fusion-model.json`` ``task``)
    name: str
    #: what it does, one line
    description: str = ""
    #: the built-in model a request of this task runs when it names none
    default_model: str
    roles: tuple[Role, ...]
    #: model input roles and times a package of this task may declare
    input_roles: tuple[str, ...] = ()
    input_times: tuple[str, ...] = ("t0",)
    #: the scores its evaluations and trainers report (names of :mod:`fusion.metrics`), in table order
    metrics: tuple[str, ...] = ("rmse", "ssim")
    #: what ``fusion training-set`` builds for the task: ``patches`` (aligned patch examples as
    #: TFRecords) or ``pairs`` (whole-tile pairs of :meth:`training_pairs`, one file each)
    training_set: str = PATCH_TRAINING_SET

    # ---------------------------------------------------------------- roles and search

    def default_collections(self) -> dict[str, str]:
        return {r.name: r.collection for r in self.roles}

    def searched_roles(self, with_targets: bool = False) -> tuple[Role, ...]:
        """The roles a search looks for (target-only roles only ``with_targets``)."""
        return tuple(r for r in self.roles if with_targets or not r.target_only)

    @abstractmethod
    def search_period(
        self, start: dt.date, end: dt.date, pairing: PairingConfig, with_targets: bool = False
    ) -> tuple[dt.date, dt.date]:
        """The days to search for a request whose target dates are ``start..end``."""

    def qa_factors(self, coarse_ratio: int) -> dict[str, int]:
        """Per role, how many output pixels one QA pixel covers when assessing clear fractions
        (a scene's QA is read that much coarser than the output grid)."""
        return {r.name: 8 for r in self.roles}

    # ---------------------------------------------------------------- jobs

    @abstractmethod
    def jobs(
        self,
        observations: Sequence[Observation],
        pairing: PairingConfig,
        period: tuple[dt.date, dt.date] | None = None,
    ) -> tuple[list[FusionJob], list[Skip]]:
        """The jobs of one tile and a :class:`Skip` (with a reason) for every date not fused;
        ``period`` bounds the target dates."""

    @abstractmethod
    def lineage(self, job: FusionJob, metadata: ModelMetadata) -> JobLineage:
        """The input items and time span a product of ``job`` records."""

    # ---------------------------------------------------------------- blocks

    def block_alignment(self, metadata: ModelMetadata, output_pixel: float) -> int:
        """Block, halo and tile sizes must be multiples of this for ``metadata``'s model."""
        return metadata.coarse_ratio

    @abstractmethod
    def read_block(
        self,
        job: FusionJob,
        tile: Tile,
        block: Block,
        metadata: ModelMetadata,
        cache: SceneReadCache | None = None,
    ) -> BlockRead:
        """Read ``block`` of ``job`` as ``metadata``'s inputs: walk ``metadata.inputs`` and read
        each spec's own role, time and bands. Raises BlockReadError for a bad asset."""

    def block_inputs(
        self,
        job: FusionJob,
        tile: Tile,
        block: Block,
        metadata: ModelMetadata,
        product_id: str,
        n_blocks: int,
        cache: SceneReadCache | None = None,
    ) -> BlockInputs:
        """:meth:`read_block` as the pipeline's :class:`~fusion.blockio.BlockInputs`."""
        got = self.read_block(job, tile, block, metadata, cache)
        return BlockInputs(
            product_id=product_id,
            block=block,
            n_blocks=n_blocks,
            arrays=got.arrays,
            output_valid=got.output_valid,
            bytes_read=got.bytes_read,
            notes=got.notes,
        )

    # ---------------------------------------------------------------- training pairs

    def training_pairs(self, observations: Sequence[Observation], min_clear: float) -> list[TrainingPair]:
        """The training pairs of one tile's observations (a ``pairs`` training set), in the
        order a trainer takes them; each input and target at least ``min_clear`` clear."""
        raise ConfigError(
            f"task {self.name!r} has no pair training set (its training set: {self.training_set})"
        )

    def read_training_pair(self, pair: TrainingPair, tile: Tile) -> PairRead:
        """Read ``pair`` whole on ``tile``. Raises FusionError (BlockReadError) for a bad asset."""
        raise ConfigError(
            f"task {self.name!r} has no pair training set (its training set: {self.training_set})"
        )

    # ---------------------------------------------------------------- models

    def check_model(self, metadata: ModelMetadata, source: str = "") -> None:
        """Refuse a package whose inputs use roles or times this task does not read."""
        where = f" ({source})" if source else ""
        for spec in metadata.inputs:
            if spec.role not in self.input_roles or spec.time not in self.input_times:
                raise ModelPackageError(
                    f"model {metadata.name!r}{where}: input {spec.name!r} has role {spec.role!r} / time "
                    f"{spec.time!r}; a {self.name} model's roles are {self.input_roles}, times "
                    f"{self.input_times}"
                )
