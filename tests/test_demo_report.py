"""What `fusion demo` writes for a person to look at: the comparison figure and the run's HTML
index, built from a real pipeline output (two models on the pipeline-test simulation)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fusion.evaluation.demo_report import pick_date, write_demo_figure, write_run_index
from fusion.evaluation.simulated import score_output
from pipelines.run import run_fusion
from tests.pipeline_fixtures import pipe_request

MODELS = ("starfm", "naive")


@pytest.fixture(scope="module")
def demo_like_output(pipe_scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo-like")
    for model in MODELS:
        run_fusion(pipe_request(pipe_scenes, out / "products", model=model), out / "reports" / model)
    return out


def test_the_figure_shows_inputs_truth_and_every_model_on_the_hardest_date(
    demo_like_output: Path, pipe_scenes: Path
) -> None:
    scores = score_output(demo_like_output / "products", pipe_scenes)
    date, why = pick_date(scores, MODELS)
    naive = {s.date: s.rmse for s in scores if s.model == "naive"}
    assert naive[date] == max(naive.values()) and "naive" in why
    path, caption = write_demo_figure(
        demo_like_output / "products", pipe_scenes, scores, MODELS, demo_like_output / "c.png"
    )
    assert str(date) in caption
    with Image.open(path) as img:
        width, height = img.size
        pixels = np.asarray(img.convert("RGB"))
    assert width > 4 * height  # 5 panels side by side: reference, coarse, truth, 2 models
    assert pixels.std() > 10  # an image, not a blank canvas


def test_the_run_index_lists_every_product_with_its_thumbnail_and_every_dead_letter(
    demo_like_output: Path, pipe_scenes: Path
) -> None:
    scores = score_output(demo_like_output / "products", pipe_scenes)
    index = write_run_index(demo_like_output, scores, MODELS, None)
    page = index.read_text()
    thumbs = re.findall(r"<img class='thumb' src='([^']+)'", page)
    assert len(thumbs) == len(scores) > 0
    assert all((demo_like_output / t).is_file() for t in thumbs)
    for href in re.findall(r"<a href='([^']+)'>(?:Item|COG)</a>", page):
        assert (demo_like_output / href).is_file(), href
    for model in MODELS:
        letters = (demo_like_output / "reports" / model / "dead-letter.jsonl").read_text().splitlines()
        assert f"<h3>{model}: {len(letters)}</h3>" in page
        for line in letters:
            assert json.loads(line)["reason"].replace("&", "&amp;").replace("<", "&lt;")[:40] in page
