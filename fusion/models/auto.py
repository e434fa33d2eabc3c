"""Model choices: a name that picks one built-in package per product (issue 25, item 4).

``classical-auto`` fuses each job - one target date on one grid tile - with ESTARFM
(:data:`TWO_PAIR_METHOD`) when two usable reference pairs bracket the target date, and with the
one-pair method (:data:`ONE_PAIR_METHOD`, FSDAF) otherwise. "Usable" is what the job planning already
decided: :func:`fusion.pairing.pair_tile` gives a job the nearest clear pair on or before its
date and the nearest after it, each within ``max_gap_days``, up to ``max_pairs`` (nearest
first), so a job brackets its date exactly when it holds a pair on each side.

A choice is not a package. :func:`fusion.models.resolve_model` refuses it with a message naming
its packages (``fusion export-model``, ``fusion fuse-files`` and the Python API take one
package). The fusion pipeline resolves it per job while it plans products (:class:`JobModels`,
used by PlanBlocks and the dry run): a product's id, paths and model identity are those of the
package that made it, and its Item says which method that was and why
(``eo-fusion:method``, ``eo-fusion:method_reason``).

No TensorFlow and no Beam here (``tests/test_layering.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fusion.errors import ConfigError
from fusion.models.package import ModelMetadata
from fusion.pairing import FusionJob

#: The method of a job whose reference pairs bracket its date (one before, one after).
TWO_PAIR_METHOD = "estarfm"
#: The method of a job with one reference pair: FSDAF (fusion/models/classical/fsdaf.py), made
#: for abrupt change from one pair; tests read this constant.
ONE_PAIR_METHOD = "fsdaf"


@dataclass(frozen=True)
class MethodChoice:
    """What a model choice decided for one job: the package that fuses it, and why."""

    choice: str  #: the choice's name, e.g. ``classical-auto``
    method: str  #: the built-in package that fuses the job
    reason: str  #: why, in words, e.g. "two reference pairs bracket the target date (...)"


@dataclass(frozen=True)
class BracketingChoice:
    """A package for jobs with a reference pair on each side of their date, another one for
    the rest (one pair: none usable before or after the date, or ``max_pairs`` 1)."""

    name: str
    task: str
    two_pair: str  #: built-in package for a job whose pairs bracket its date
    one_pair: str  #: built-in package for a job with one pair

    @property
    def packages(self) -> tuple[str, ...]:
        return (self.two_pair, self.one_pair)

    @property
    def description(self) -> str:
        return (
            f"per product: {self.two_pair} when two reference pairs bracket the target date, "
            f"else {self.one_pair}"
        )

    def choose(self, job: FusionJob, max_pairs: int = 2) -> MethodChoice:
        """The package for ``job`` and the reason (the pairs' dates in it). ``max_pairs``: the
        request's pairing limit, which is the reason when it kept a second pair out."""
        before = [p for p in job.pairs if p.date <= job.date]
        after = [p for p in job.pairs if p.date > job.date]
        if before and after:
            return MethodChoice(
                self.name,
                self.two_pair,
                f"two reference pairs bracket the target date ({before[0].date}, {after[0].date})",
            )
        if not job.pairs:  # pair_tile never plans one; a hand-made job is a programming error
            raise ValueError(f"job {job.tile_id} {job.date} has no reference pair")
        if max_pairs == 1:
            why = "max_pairs is 1 (one reference pair per target)"
        else:
            why = f"no usable pair {'after' if before else 'before'} the target date"
        return MethodChoice(self.name, self.one_pair, f"one reference pair ({job.pairs[0].date}): {why}")

    def check(self, metadata: Mapping[str, ModelMetadata]) -> None:
        """Refuse packages (by built-in name) that cannot play their part: the two-pair one must
        take two pairs, the one-pair one a single pair, and all must read the coarse scenes at
        one ratio (the clear fractions that plan the jobs are assessed at it)."""
        two, one = metadata[self.two_pair], metadata[self.one_pair]
        if not two.reference_pairs[0] <= 2 <= two.reference_pairs[1]:
            raise ConfigError(
                f"model {self.name!r}: its two-pair package {self.two_pair!r} takes "
                f"{two.reference_pairs[0]}-{two.reference_pairs[1]} reference pairs, not 2; rebuild it "
                f"with `fusion export-model {self.two_pair}`"
            )
        if one.reference_pairs[0] > 1:
            raise ConfigError(
                f"model {self.name!r}: its one-pair package {self.one_pair!r} needs at least "
                f"{one.reference_pairs[0]} reference pairs; rebuild it with "
                f"`fusion export-model {self.one_pair}`"
            )
        ratios = {name: meta.coarse_ratio for name, meta in metadata.items()}
        if len(set(ratios.values())) > 1:
            raise ConfigError(
                f"model {self.name!r}: its packages read the coarse scenes at different ratios "
                f"({', '.join(f'{n} {r}' for n, r in sorted(ratios.items()))}); they must share one"
            )


#: The choice the registry names ``classical-auto`` (``fusion.models.CHOICES``).
CLASSICAL_AUTO = BracketingChoice("classical-auto", "spatiotemporal", TWO_PAIR_METHOD, ONE_PAIR_METHOD)


@dataclass(frozen=True)
class PackageRef:
    """A checked model package as the pipeline's stages name it."""

    #: a built-in name (each worker resolves it in its own installation) or a package path
    ref: str
    metadata: ModelMetadata
    checksum: str
    #: block sizes and halos are multiples of this (the task's block alignment for the package)
    align: int


@dataclass(frozen=True)
class JobModels:
    """Which package fuses each job of a run: the request's one package, or - for a model
    choice - one of the choice's packages per job (:meth:`for_job`)."""

    packages: tuple[PackageRef, ...]
    choice: BracketingChoice | None = None
    max_pairs: int = 2  #: the request's pairing limit (a reason of the choice)

    def __post_init__(self) -> None:
        if self.choice is None and len(self.packages) != 1:
            raise ValueError(f"one package without a choice, got {len(self.packages)}")
        refs = [p.ref for p in self.packages]
        if len(set(refs)) != len(refs):
            raise ValueError(f"packages named twice: {refs}")
        if self.choice is not None and set(refs) != set(self.choice.packages):
            raise ValueError(f"choice {self.choice.name!r} needs {self.choice.packages}, got {tuple(refs)}")

    @classmethod
    def single(cls, ref: str, metadata: ModelMetadata, checksum: str, align: int = 0) -> JobModels:
        """One package for every job (``align`` 0: its coarse ratio)."""
        return cls((PackageRef(ref, metadata, checksum, align or metadata.coarse_ratio),))

    @property
    def name(self) -> str:
        """The request's model as a person named it: the choice, or the package's name."""
        return self.choice.name if self.choice is not None else self.packages[0].metadata.name

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(p.ref for p in self.packages)

    @property
    def coarse_ratio(self) -> int:
        """The packages' coarse ratio (a choice's packages share one, :meth:`BracketingChoice.check`)."""
        return self.packages[0].metadata.coarse_ratio

    def package(self, ref: str) -> PackageRef:
        """The package a product spec names (its ``model_href``); the only one without a choice."""
        if self.choice is None:
            return self.packages[0]
        for p in self.packages:
            if p.ref == ref:
                return p
        raise ValueError(f"package {ref!r} is not one of {self.refs}")

    def for_job(self, job: FusionJob) -> tuple[PackageRef, MethodChoice | None]:
        """The package that fuses ``job``, and the choice's decision (None without a choice)."""
        if self.choice is None:
            return self.packages[0], None
        method = self.choice.choose(job, self.max_pairs)
        return self.package(method.method), method


__all__ = [
    "CLASSICAL_AUTO",
    "ONE_PAIR_METHOD",
    "TWO_PAIR_METHOD",
    "BracketingChoice",
    "JobModels",
    "MethodChoice",
    "PackageRef",
]
