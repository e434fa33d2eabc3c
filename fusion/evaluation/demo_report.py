"""What `fusion demo` leaves for a person to look at: a comparison figure of one date (the fine
reference, the coarse input, the simulated truth and each model's product) and an HTML index of
the run (products with their thumbnails and scores, dead letters, the figure).

Everything is read back from the output folder (product Items and COGs, the input Items they
link by ``derived_from``, the run reports), so the figure shows what the products hold.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pystac
from affine import Affine
from rasterio.enums import Resampling

from fusion.blockio import GridWindow, read_scene
from fusion.catalog import Scene, scene_from_item
from fusion.errors import SceneNotFound
from fusion.evaluation.report import _display
from fusion.evaluation.simulated import ProductScore, _products_by_tile_and_date, run_model
from fusion.models import get_metadata, is_model_choice

F32 = npt.NDArray[np.float32]


def pick_date(scores: Sequence[ProductScore], models: Sequence[str]) -> tuple[dt.date, str]:
    """The date every model produced on which the naive difference errs most: the date with the
    most change since its references (the flood, in the demo), where the models differ most."""
    dates = sorted({s.date for s in scores})
    complete = [d for d in dates if {s.model for s in scores if s.date == d} >= set(models)]
    if not complete:
        raise SceneNotFound(f"no date has a product of every model of {list(models)}")
    judge = "naive" if "naive" in models else models[0]
    rmse = {s.date: s.rmse for s in scores if s.model == judge and s.date in complete}
    date = max(complete, key=lambda d: (rmse[d], d))
    return (
        date,
        f"the date on which {judge} errs most (RMSE {rmse[date]:.4f}): the most change since its references",
    )


def _linked_scene(item: Mapping[str, Any], item_path: Path, title_prefix: str) -> Scene:
    """The input scene a product Item links by ``derived_from`` with this title prefix."""
    link = next(
        lk
        for lk in item["links"]
        if lk["rel"] == "derived_from" and str(lk.get("title", "")).startswith(title_prefix)
    )
    href = link["href"]
    path = Path(href) if os.path.isabs(href) else (item_path.parent / href).resolve()
    return scene_from_item(pystac.Item.from_file(str(path)))


def _on_product_grid(scene: Any, bands: list[str], cog: Path, factor: int) -> F32:
    """``scene``'s reflectance on the product's grid (coarse scenes on the grid ``factor``
    times coarser, as the pipeline reads them, then shown with nearest-neighbour pixels)."""
    import rasterio

    with rasterio.open(cog) as src:
        crs, transform, height, width = str(src.crs), src.transform, src.height, src.width
    if factor > 1:
        grid = GridWindow(crs, transform @ Affine.scale(factor), height // factor, width // factor)
        block = read_scene(scene, bands, grid, Resampling.average)
        values = np.repeat(np.repeat(block.reflectance, factor, axis=0), factor, axis=1)
    else:
        values = read_scene(
            scene, bands, GridWindow(crs, transform, height, width), Resampling.nearest
        ).reflectance
    out: F32 = np.moveaxis(values, -1, 0).astype(np.float32)
    return out


def write_demo_figure(
    products: str | os.PathLike[str],
    simulation_dir: str | os.PathLike[str],
    scores: Sequence[ProductScore],
    models: Sequence[str],
    path: str | os.PathLike[str],
) -> tuple[Path, str]:
    """A PNG with, for one date (:func:`pick_date`), the fine reference, the coarse input of the
    date, the simulated truth and each model's product (NIR-red-green, the same stretch), each
    product titled with its RMSE against the truth. Returns the path and a caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    date, why = pick_date(scores, models)
    groups = _products_by_tile_and_date(products, simulation_dir)
    (tile, _), group = next((k, g) for k, g in sorted(groups.items()) if k[1][:10] == date.isoformat())
    by_model = {run_model(m.item["properties"])[0]: m for m in group}
    first = by_model[models[0]]
    item_path = next(Path(products).glob(f"eo-fusion-*/{tile}/*/{first.item['id']}.json"))
    cog = item_path.parent / first.item["assets"]["data"]["href"]
    bands = first.bands
    # A model choice's product names the package it came from.
    package = first.item["properties"]["eo-fusion:model"]["name"] if is_model_choice(models[0]) else models[0]
    ratio = max(spec.resolution_ratio for spec in get_metadata(package).inputs)
    fine_scene = _linked_scene(first.item, item_path, "fine_tk1")
    coarse_scene = _linked_scene(first.item, item_path, "target")
    panels: list[tuple[str, F32]] = [
        (
            f"fine reference\n{fine_scene.datetime.date()} ({fine_scene.collection})",
            _on_product_grid(fine_scene, bands, cog, 1),
        ),
        (
            f"coarse input, {date}\n({coarse_scene.collection}, {ratio}x coarser)",
            _on_product_grid(coarse_scene, bands, cog, ratio),
        ),
        (f"simulated truth\n{first.truth_day} (not an input)", first.truth),
    ]
    shown = {s.model: s for s in scores if s.date == date}
    for model in models:
        loaded = by_model[model]  # its COG was read when the products were grouped
        image = np.where(loaded.valid, loaded.fused, np.nan).astype(np.float32)
        panels.append((f"{shown[model].label}\nRMSE {shown[model].rmse:.4f}", image))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.9 * len(panels), 3.4), squeeze=False)
    for ax, (title, image) in zip(axes[0], panels, strict=True):
        rgb = _display(image, bands)
        rgb[~np.isfinite(image).all(axis=0)] = 0.85  # no data: light grey, not black like water
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    caption = f"tile {tile}, {date}: NIR-red-green; {why}"
    fig.suptitle(caption + " (grey: no data)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    out = Path(path)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out, caption


def _dead_letters(report_dir: Path) -> list[dict[str, Any]]:
    path = report_dir / "dead-letter.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_run_index(
    out: str | os.PathLike[str],
    scores: Sequence[ProductScore],
    models: Sequence[str],
    figure: Path | None,
    caption: str = "",
) -> Path:
    """``OUT/index.html``: the figure, the mean scores per model, every product (thumbnail,
    date, scores, links to its Item and COG) and every dead letter of each model's run (from
    ``OUT/reports/MODEL/``). Links are relative, so the folder can be moved or served."""
    root = Path(out)
    products = root / "products"
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>eo-fusion demo run</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}img.thumb{width:96px}</style>",
        "</head><body><h1>eo-fusion demo run</h1>",
        "<p>Products in <a href='products/catalog.json'>products/catalog.json</a> (a static STAC "
        "catalog); scores against the simulated truth in <a href='scores.md'>scores.md</a>.</p>",
    ]
    if figure is not None:
        figure_href = os.path.relpath(figure, root)
        parts.append(
            f"<figure><img src='{esc(figure_href)}' alt='comparison' style='max-width:100%'>"
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    parts.append(
        "<h2>Mean scores</h2><table><tr><th>model</th><th>products</th><th>RMSE</th><th>SSIM</th></tr>"
    )
    for model in models:
        mine = [s for s in scores if s.model == model]
        if mine:
            parts.append(
                f"<tr><td>{esc(model)}</td><td>{len(mine)}</td><td>{np.mean([s.rmse for s in mine]):.4f}</td>"
                f"<td>{np.mean([s.ssim for s in mine]):.4f}</td></tr>"
            )
    parts.append(
        "</table><h2>Products</h2><table><tr><th>thumbnail</th><th>date</th><th>observed</th>"
        "<th>model</th><th>valid</th><th>RMSE</th><th>SSIM</th><th>files</th></tr>"
    )
    for s in sorted(scores, key=lambda s: (s.date, s.model)):
        item_path = next(products.glob(f"eo-fusion-*/*/*/{s.product_id}.json"), None)
        if item_path is None:
            continue
        item = json.loads(item_path.read_text())
        rel = Path(os.path.relpath(item_path.parent, root))
        thumb = rel / item["assets"]["thumbnail"]["href"]
        data = rel / item["assets"]["data"]["href"]
        item_href = rel / item_path.name
        parts.append(
            f"<tr><td><img class='thumb' src='{esc(str(thumb))}' alt='{esc(s.product_id)}'></td>"
            f"<td>{s.date}</td><td>{s.truth_date}</td><td>{esc(s.label)}</td><td>{s.valid_fraction:.0%}</td>"
            f"<td>{s.rmse:.4f}</td><td>{s.ssim:.4f}</td><td><a href='{esc(str(item_href))}'>Item</a> "
            f"<a href='{esc(str(data))}'>COG</a></td></tr>"
        )
    parts.append("</table><h2>Dead letters</h2>")
    for model in models:
        letters = _dead_letters(root / "reports" / model)
        parts.append(f"<h3>{esc(model)}: {len(letters)}</h3>")
        if letters:
            parts.append("<table><tr><th>stage</th><th>kind</th><th>key</th><th>reason</th></tr>")
            for rec in letters:
                parts.append(
                    f"<tr><td>{esc(str(rec.get('stage')))}</td><td>{esc(str(rec.get('kind')))}</td>"
                    f"<td>{esc(str(rec.get('key')))}</td><td>{esc(str(rec.get('reason')))}</td></tr>"
                )
            parts.append("</table>")
    parts.append("</body></html>")
    path = root / "index.html"
    path.write_text("\n".join(parts) + "\n")
    return path


__all__ = ["pick_date", "write_demo_figure", "write_run_index"]
