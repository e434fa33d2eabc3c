"""docs/api.md's examples run: every ``python`` block, in order, in one namespace, in a scratch
folder (they read the Shenzhen files of shared/data in place and simulate a small catalog)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
SHENZHEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "shenzhen"


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_page_has_examples_of_every_api_call() -> None:
    from fusion import api

    code = "\n".join(code_blocks(DOC.read_text()))
    for name in ("list_models", "model_metadata", "load_model", "fuse_files", "read_product", "score"):
        assert f"api.{name}(" in code, name
    for name in ("fuse_arrays", "fuse_pair", "run_request", "make_request"):
        assert f"{name}(" in code, name
    assert set(api.__all__) >= {"fuse_arrays", "fuse_files", "load_model", "read_product", "score"}


@pytest.mark.skipif(not SHENZHEN.is_dir(), reason="shared/data/shenzhen is not beside the checkout")
def test_the_examples_of_docs_api_md_run(tmp_path: Path) -> None:
    blocks = code_blocks(DOC.read_text())
    assert len(blocks) >= 6
    namespace: dict[str, object] = {"__name__": "docs_api"}
    here = Path.cwd()
    os.chdir(tmp_path)
    try:
        for i, block in enumerate(blocks, start=1):
            exec(compile(block, f"{DOC}:block{i}", "exec"), namespace)  # noqa: S102 - our own docs
    finally:
        os.chdir(here)
    assert (tmp_path / "fused").is_dir() and (tmp_path / "products" / "catalog.json").is_file()
