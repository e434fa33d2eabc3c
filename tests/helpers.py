"""Test helpers: offline stac-validator runs and COG validation."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from rio_cogeo.cogeo import cog_validate

from fusion.catalog import STAC_EXTENSIONS

HERE = Path(__file__).parent
STAC_VERSION = "1.1.0"


def schema_map_args() -> list[str]:
    """``-s URL PATH`` pairs: core STAC 1.1.0 + GeoJSON schemas from pystac's bundled copies,
    extension schemas to the documented offline stand-in (see tests/schemas/)."""
    root = resources.files("pystac.validation.jsonschemas")
    spec = root / "stac-spec" / f"v{STAC_VERSION}"
    base = f"https://schemas.stacspec.org/v{STAC_VERSION}"
    args: list[str] = []
    for name in ("item", "catalog", "collection"):
        args += ["-s", f"{base}/{name}-spec/json-schema/{name}.json", str(spec / f"{name}.json")]
    for name in (
        "common",
        "bands",
        "basics",
        "data-values",
        "datetime",
        "instrument",
        "licensing",
        "provider",
    ):
        args += ["-s", f"{base}/item-spec/json-schema/{name}.json", str(spec / f"{name}.json")]
    for name in ("Feature", "Geometry"):
        args += ["-s", f"https://geojson.org/schema/{name}.json", str(root / "geojson" / f"{name}.json")]
    stand_in = str(HERE / "schemas" / "extension-not-fetched.json")
    for url in STAC_EXTENSIONS.values():
        args += ["-s", url, stand_in]
    return args


def stac_validate_recursive(catalog: Path, tmp: Path) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``stac-validator validate --recursive --links --assets`` offline.

    Returns (exit code, the per-object results from its log file, stdout+stderr).
    """
    log = tmp / "stac-validator.json"
    exe = Path(sys.executable).parent / "stac-validator"
    proc = subprocess.run(
        [
            str(exe),
            "validate",
            str(catalog),
            "--recursive",
            "--links",
            "--assets",
            *schema_map_args(),
            "--log_file",
            str(log),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    results = json.loads(log.read_text()) if log.exists() else []
    return proc.returncode, results, proc.stdout + proc.stderr


def broken_links_and_assets(catalog: Path) -> list[str]:
    """Every link and asset href of every object under ``catalog``, resolved relative to the
    object that holds it, that does not exist (links must also be STAC JSON).

    stac-validator's own ``--links``/``--assets`` checks only request absolute http(s) URLs
    and, in ``--recursive`` mode, do not report them; for a self-contained local catalog this
    resolver is the real check.
    """
    broken: list[str] = []
    seen: set[Path] = set()
    todo = [catalog.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        obj = json.loads(path.read_text())
        for link in obj.get("links", []):
            target = (path.parent / link["href"]).resolve()
            if not target.exists():
                broken.append(f"{path}: link {link['rel']} -> {link['href']}")
                continue
            if link["rel"] in ("child", "item", "root", "parent", "collection"):
                try:
                    kind = json.loads(target.read_text()).get("type")
                except ValueError:
                    broken.append(f"{path}: link {link['rel']} -> {link['href']} is not JSON")
                    continue
                if kind not in ("Catalog", "Collection", "Feature"):
                    broken.append(f"{path}: link {link['rel']} -> {link['href']} is not STAC")
            if link["rel"] in ("child", "item"):
                todo.append(target)
        for key, asset in obj.get("assets", {}).items():
            if not (path.parent / asset["href"]).exists():
                broken.append(f"{path}: asset {key} -> {asset['href']}")
    return broken


def is_valid_cog(path: Path) -> tuple[bool, list[str], list[str]]:
    valid, errors, warnings = cog_validate(str(path), strict=False, quiet=True)
    return valid, errors, warnings
