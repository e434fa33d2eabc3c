"""`fusion fuse-files`: fuse a user's own GeoTIFFs, without a STAC catalog (:mod:`fusion.files`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from pipelines.cli.common import DATE, CsvType, exit_on_fusion_error, quiet_option, stderr_progress


class DatedPathType(click.ParamType[tuple[dt.date, str]]):
    """DATE=PATH (``--fine 2000-11-01=landsat.tif``)."""

    name = "DATE=PATH"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[dt.date, str]:
        if isinstance(value, tuple):
            return value
        date, sep, path = str(value).partition("=")
        if not sep or not path.strip():
            self.fail(f"{value!r} is not DATE=PATH, e.g. 2000-11-01=landsat.tif", param, ctx)
        try:
            return dt.date.fromisoformat(date.strip()), path.strip()
        except ValueError:
            self.fail(
                f"{date!r} in {value!r} is not a date; write DATE=PATH as 2000-11-01=landsat.tif", param, ctx
            )


class OriginType(click.ParamType[tuple[float, float]]):
    name = "X,Y"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[float, float]:
        if isinstance(value, tuple):
            return value
        try:
            x, y = (float(v) for v in str(value).split(","))
        except ValueError:
            self.fail(
                f"{value!r} is not X,Y (the grid's top-left corner in its CRS), e.g. 798720,2504320",
                param,
                ctx,
            )
        return x, y


DATED = DatedPathType()


@click.command("fuse-files")
@click.option("--fine", "fine", type=DATED, multiple=True, help="A fine image of a reference date (repeat).")
@click.option(
    "--coarse",
    "coarse",
    type=DATED,
    multiple=True,
    help="A coarse image: the target date's and each reference date's (repeat).",
)
@click.option("--target", type=DATE, required=True, help="The date to predict the fine image of.")
@click.option(
    "--model",
    default="starfm",
    show_default=True,
    help="A spatiotemporal built-in model or a package folder.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the product to.",
)
@click.option(
    "--bands",
    type=CsvType(),
    help="The model band of each file band, in file order ('-' leaves one out), e.g. nir08,red,green. "
    "[the model's bands, when a file has as many]",
)
@click.option("--fine-bands", type=CsvType(), help="As --bands, for the fine files only.")
@click.option("--coarse-bands", type=CsvType(), help="As --bands, for the coarse files only.")
@click.option(
    "--fine-mask",
    type=DATED,
    multiple=True,
    help="DATE=MASK: usable pixels (non-zero) of that date's fine file.",
)
@click.option(
    "--coarse-mask",
    type=DATED,
    multiple=True,
    help="DATE=MASK: usable pixels (non-zero) of that date's coarse file.",
)
@click.option("--nodata", type=float, help="Missing pixels' value, for files that state none.")
@click.option(
    "--scale",
    type=float,
    help="Stored value x scale + offset = reflectance. [the file's tags, else 1e-4 for integers]",
)
@click.option("--offset", type=float, help="See --scale. [the file's tag, else 0]")
@click.option("--crs", help="Output CRS, e.g. EPSG:32649. [the first fine file's]")
@click.option(
    "--resolution",
    type=click.FloatRange(min=0, min_open=True),
    help="Output pixel size in CRS units. [the fine file's]",
)
@click.option(
    "--origin", type=OriginType(), help="Top-left corner of the output in its CRS. [the fine file's]"
)
@click.option(
    "--size",
    type=click.IntRange(1),
    help="Output side in pixels (square). [the fine image's larger side, rounded up]",
)
@click.option("--block-size", type=click.IntRange(16), default=512, show_default=True)
@click.option(
    "--stac", is_flag=True, help="Also write a STAC Item (lineage to the files) and catalog into --out."
)
@quiet_option
@exit_on_fusion_error
def fuse_files(
    fine: tuple[tuple[dt.date, str], ...],
    coarse: tuple[tuple[dt.date, str], ...],
    target: dt.date,
    model: str,
    out_dir: Path,
    bands: tuple[str, ...] | None,
    fine_bands: tuple[str, ...] | None,
    coarse_bands: tuple[str, ...] | None,
    fine_mask: tuple[tuple[dt.date, str], ...],
    coarse_mask: tuple[tuple[dt.date, str], ...],
    nodata: float | None,
    scale: float | None,
    offset: float | None,
    crs: str | None,
    resolution: float | None,
    origin: tuple[float, float] | None,
    size: int | None,
    block_size: int,
    stac: bool,
    quiet: bool,
) -> None:
    """Fuse your own GeoTIFFs with a spatiotemporal model, without a STAC catalog.

    \b
    fusion fuse-files --fine 2000-11-01=L7_2000.tif --coarse 2000-11-01=MODIS_2000.tif \\
        --coarse 2002-11-07=MODIS_2002.tif --target 2002-11-07 --model starfm --out fused/

    The built-in models read six bands (blue,green,red,nir08,swir16,swir22): files in another
    order or with other bands say which band is which with --bands (and need a package of
    their bands).

    Files may be in any CRS and pixel size: they are warped onto the output grid (the first fine
    file's, or --crs/--resolution/--origin/--size). The product is the pipeline's COG
    (int16 x 1e-4, nodata -9999); its path is printed on stdout. See docs/fuse-files.md.
    """
    from fusion.files import FuseFilesRequest, InputFile, OutputGrid, fuse_files

    masks = {("fine", d): p for d, p in fine_mask} | {("coarse", d): p for d, p in coarse_mask}
    given = {("fine", d) for d, _ in fine} | {("coarse", d) for d, _ in coarse}
    for (role, date), path in masks.items():
        if (role, date) not in given:
            raise click.UsageError(f"--{role}-mask {date}={path}: there is no --{role} {date}=PATH to mask")
    files = [
        InputFile(role, date, path, masks.get((role, date)), role_bands)
        for role, pairs, role_bands in (("fine", fine, fine_bands), ("coarse", coarse, coarse_bands))
        for date, path in pairs
    ]
    grid = None
    if any(v is not None for v in (crs, resolution, origin, size)):
        grid = OutputGrid(crs, resolution, origin[0] if origin else None, origin[1] if origin else None, size)
    request = FuseFilesRequest(
        files=tuple(files),
        target=target,
        output=str(out_dir),
        model=model,
        bands=bands,
        nodata=nodata,
        scale=scale,
        offset=offset,
        grid=grid,
        block_size=block_size,
        stac=stac,
    )
    result = fuse_files(request, progress=stderr_progress(quiet))
    click.echo(result.item or result.cog)
