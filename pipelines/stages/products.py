"""AssembleProducts → PublishStac: blocks stitched into products, COGs and Items written,
collection and catalog JSON (and optionally a STAC API) updated."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import numpy as np
import numpy.typing as npt
from apache_beam.pvalue import PCollection
from apache_beam.transforms import combiners, window

from fusion.blockfuse import FusedBlock, stitch_blocks
from fusion.errors import FusionError
from fusion.grid import Tile
from fusion.models import resolve_model
from fusion.publish import ProductSpec, product_collections, update_catalog, write_product
from pipelines.records import (
    DEAD_LETTER,
    MAIN,
    BlockFailed,
    BlockOutput,
    DeadLetter,
    ProductRecord,
    dead_letter,
    product_record,
)
from pipelines.stages.common import PROGRESS, count

log = logging.getLogger("eo-fusion")


@dataclass
class ProductToWrite:
    spec: ProductSpec
    tile: Tile
    data: npt.NDArray[np.float32]
    valid: npt.NDArray[np.bool_]


def assemble(element: tuple[str, Iterable[BlockOutput | BlockFailed]]) -> ProductToWrite | DeadLetter:
    """One product's blocks stitched into its tile, or the dead-letter record saying why not."""
    product_id, group = element
    members = list(group)
    parts = sorted((m for m in members if isinstance(m, BlockOutput)), key=lambda b: b.block.index)
    failed = [m for m in members if isinstance(m, BlockFailed)]
    expected = members[0].n_blocks
    if failed or len(parts) != expected:
        return dead_letter(
            "assemble",
            f"incomplete: {len(parts)} of {expected} blocks fused, {len(failed)} dead-lettered "
            "(see the block records); not published, a re-run retries it",
            key=product_id,
        )
    first = parts[0]
    tile = first.tile
    data, valid = stitch_blocks(
        tile.shape, len(first.spec.bands), (FusedBlock(p.block, p.fused, p.valid) for p in parts)
    )
    if not valid.any():
        return dead_letter(
            "assemble", "no valid pixel in the whole product; not published", key=product_id, kind="skipped"
        )
    return ProductToWrite(first.spec, tile, data, valid)


#: Products written at the same time by one assembling DoFn instance.
PARALLEL_WRITES = 2


class _AssembleDoFn(beam.DoFn):
    """Assemble each product and write its COG, quicklook and Item.

    The writes run ``PARALLEL_WRITES`` at a time in threads: a product's write is almost all
    ZSTD and zlib compression inside GDAL, which does not hold the GIL, and on the
    DirectRunner nothing else runs while the products are written. Counters and outputs stay
    on the DoFn's thread (Beam metrics are per thread); a write error fails the bundle as
    before."""

    def __init__(self, output: str, cog_profile: str) -> None:
        self.output = output
        self.cog_profile = cog_profile

    def setup(self) -> None:
        self._pool = ThreadPoolExecutor(PARALLEL_WRITES, thread_name_prefix="product-write")

    def teardown(self) -> None:
        self._pool.shutdown(wait=True)

    def start_bundle(self) -> None:
        self._writing: list[tuple[ProductToWrite, Future[str]]] = []

    def process(self, element: tuple[str, Iterable[BlockOutput | BlockFailed]]) -> Iterator[Any]:
        product = assemble(element)
        if isinstance(product, DeadLetter):
            count("products_dead_lettered")
            log.info("dead-lettered %s [%s]", product.key, PROGRESS.finish())
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, product)
            return
        write = self._pool.submit(
            write_product,
            product.spec,
            self.output,
            product.tile,
            product.data,
            product.valid,
            cog_profile=self.cog_profile,
        )
        self._writing.append((product, write))
        while len(self._writing) >= PARALLEL_WRITES:
            yield self._written(*self._writing.pop(0))

    def finish_bundle(self) -> Iterator[Any]:
        while self._writing:
            yield window.GlobalWindows.windowed_value(self._written(*self._writing.pop(0)))

    def _written(self, product: ProductToWrite, write: Future[str]) -> ProductRecord:
        item = write.result()
        count("products_written")
        valid = float(product.valid.mean())
        log.info("wrote %s (%.0f%% valid) [%s]", product.spec.product_id, 100 * valid, PROGRESS.finish())
        return product_record(product.spec, "written", str(item), valid)


@dataclass
class AssembleProducts(beam.PTransform[Any, Any]):
    output: str
    cog_profile: str = "zstd"

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, blocks: PCollection) -> dict[str, PCollection]:
        out = (
            blocks
            | "KeyByProduct" >> beam.Map(lambda b: (b.product_id, b))
            | "GroupBlocks" >> beam.GroupByKey()
            | "WriteCog"
            >> beam.ParDo(_AssembleDoFn(self.output, self.cog_profile)).with_outputs(DEAD_LETTER, main=MAIN)
        )
        return {MAIN: out[MAIN], DEAD_LETTER: out[DEAD_LETTER]}


@dataclass
class PublishStac(beam.PTransform[Any, Any]):
    """Once every product is written: update collection and catalog JSON (writes only changes).

    Outputs: :data:`MAIN` one list of the files written; :data:`DEAD_LETTER` a ``skipped``
    record (stage ``publish``) for each catalog file that could not be used - a linked Item
    that is missing, truncated or not an Item is dropped from the catalog (the next run that
    covers its product redoes it)."""

    output: str
    stac_api: str | None = None
    #: the model packages of this run (built-in names or paths; a model choice has several):
    #: each copied under ``models/`` and described as a STAC MLM Item
    model_packages: tuple[str, ...] = ()
    #: the source catalog and the request's collections: their licences and providers
    #: attribute the products (read once, when the products are written)
    catalog: str | None = None
    input_collections: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, products: PCollection) -> dict[str, PCollection]:
        output, stac_api, packages = self.output, self.stac_api, self.model_packages
        catalog, collections = self.catalog, self.input_collections

        def publish(records: list[ProductRecord]) -> Iterator[Any]:
            if not records:
                yield []
                return
            licensing: dict[str, dict[str, Any]] = {}
            if catalog:
                from fusion.request import input_licensing

                licensing = input_licensing(catalog, collections)
            # This run's Items (written now, or found finished) besides the ones the catalog lists.
            mine = [r.item for r in records if isinstance(r, ProductRecord) and r.item]
            # A built-in model's name is resolved here, where this worker has it installed.
            folders = [str(resolve_model(package)) for package in packages]
            update = update_catalog(output, folders, licensing, mine)
            written = update.written
            for skipped in update.skipped:
                count("catalog_files_skipped")
                log.warning("catalog: %s: %s", skipped.location, skipped.reason)
                yield beam.pvalue.TaggedOutput(
                    DEAD_LETTER,
                    dead_letter(
                        "publish",
                        f"{skipped.location}: {skipped.reason}",
                        key=skipped.location,
                        asset=skipped.location,
                        kind="skipped",
                    ),
                )
            if stac_api:
                from fusion.stacapi import StacApiPublisher

                publisher = StacApiPublisher(stac_api)
                for collection, items in product_collections(output):
                    try:
                        result = publisher.publish(collection, items)
                    except FusionError as exc:  # the products are written; only the API copy is missing
                        count("stac_api_failed", len(items))
                        log.error("publishing %s to %s failed: %s", collection["id"], stac_api, exc)
                        continue
                    count("stac_api_created", len(result.created))
                    count("stac_api_updated", len(result.updated))
                    count("stac_api_unchanged", len(result.unchanged))
                    log.info("STAC API %s, %s: %s", stac_api, collection["id"], result.text())
            count("stac_files_written", len(written))
            yield [str(p) for p in written]

        out = (
            products
            | "Global" >> beam.WindowInto(window.GlobalWindows())
            | "AllProducts" >> combiners.ToList()
            | "UpdateCatalog" >> beam.FlatMap(publish).with_outputs(DEAD_LETTER, main=MAIN)
        )
        return {MAIN: out[MAIN], DEAD_LETTER: out[DEAD_LETTER]}
