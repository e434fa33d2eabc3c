"""Scratch folders for products being written, and their clean-up after an interrupted run.

A product's COG, thumbnail and Item are made in a scratch folder and moved into place
(:func:`fusion.publish.write_product`). A run stopped by Ctrl-C or killed leaves such folders
behind in the system's temporary folder, so their names carry the writing process's id:
:func:`remove_scratch` removes this process's (on interrupt) and those of processes that no
longer run (at the start of the next run), never a folder another running process writes in.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

SCRATCH_PREFIX = "eo-fusion-product-"
#: ``eo-fusion-product-<pid>-<random>``; names without a pid come from eo-fusion before 0.2.
_NAME = re.compile(rf"^{re.escape(SCRATCH_PREFIX)}(?:(\d+)-)?")
#: A scratch folder without a pid is removed once it is this old (no product takes that long).
LEGACY_MAX_AGE_S = 6 * 3600


def scratch_folder() -> tempfile.TemporaryDirectory[str]:
    """A fresh scratch folder named after this process (see the module)."""
    return tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        return True
    return True


def remove_scratch(own: bool = False, root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove scratch folders of processes that no longer run, and with ``own`` this process's
    too; returns what was removed. ``root``: the temporary folder (default: the system's)."""
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        match = _NAME.match(path.name)
        if match is None or not path.is_dir():
            continue
        if match.group(1) is None:
            stale = time.time() - path.stat().st_mtime > LEGACY_MAX_AGE_S
        else:
            pid = int(match.group(1))
            stale = (own and pid == os.getpid()) or not _running(pid)
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
