"""The documentation a newcomer reads: short README, the docs pages it promises, links that stay
inside the repository (or go to public URLs), a licence, a request reference that matches the
code, and an example request file that is a valid request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fusion.request import FusionRequest
from fusion.request_reference import BEGIN, END, reference_markdown, render_page

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "models", "evaluation", "deployment", "configuration", "troubleshooting", "usage", "architecture",
    "api", "fuse-files", "development", "browse",
]  # fmt: skip
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readme_is_short() -> None:
    words = len(re.findall(r"\S+", (ROOT / "README.md").read_text()))
    assert words < 1500, f"README.md has {words} words; move detail into docs/"


@pytest.mark.parametrize("page", PAGES)
def test_the_docs_pages_exist_and_the_readme_links_them(page: str) -> None:
    assert (ROOT / "docs" / f"{page}.md").is_file()
    assert f"docs/{page}.md" in (ROOT / "README.md").read_text()


def test_there_is_a_licence_file_and_the_metadata_names_it() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()


def test_no_link_leaves_the_repository_except_to_public_urls() -> None:
    broken = []
    for md in _markdown_files():
        for match in LINK.finditer(md.read_text()):
            href = match.group(1) or match.group(2)
            if href.startswith(("https://", "http://", "mailto:")):
                assert "127.0.0.1" not in href and "localhost" not in href, (md.name, href)
                continue
            path = href.split("#", 1)[0]
            if not path:  # an anchor on the same page
                continue
            target = (md.parent / path).resolve()
            if ROOT.resolve() not in (target, *target.parents) or not target.exists():
                broken.append(f"{md.relative_to(ROOT)}: {href}")
    assert not broken, "links that leave the repository or point nowhere:\n" + "\n".join(broken)


def test_the_request_reference_is_what_the_code_defines() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    assert BEGIN in page and END in page
    assert render_page(page) == page, "docs/configuration.md is out of date: run `make docs`"
    for name in ("catalog", "tile_size", "pairing.max_gap_days", "last_days", "stac_api"):
        assert f"| `{name}` |" in reference_markdown()


def test_the_example_request_file_is_a_valid_request() -> None:
    request = FusionRequest.from_file(ROOT / "examples" / "request.yaml")
    assert request.model == "starfm" and request.tiles == ("14N-0040-0376",)
    assert request.tile_size == 512 and str(request.start) == "2023-07-01"
