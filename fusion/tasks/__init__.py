"""The task registry: ``get_task(name)`` is the only place a fusion task is chosen.

Built-in tasks (DESIGN.md §2) live one module each in this package and are imported on first
use; a plug-in registers its own :class:`~fusion.tasks.base.FusionTask` instance with
:func:`register_task` (docs/architecture.md, "How to add a task").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fusion.errors import UnknownNameError

if TYPE_CHECKING:
    from fusion.tasks.base import BlockRead, FusionTask, JobLineage, PairRead, Role, TrainingPair

#: Ids of the built-in tasks (DESIGN.md §2).
SPATIOTEMPORAL = "spatiotemporal"
HARMONIZE = "harmonize"
#: Built-in tasks: id -> the module whose ``TASK`` is its instance.
BUILTIN_TASKS: dict[str, str] = {
    SPATIOTEMPORAL: "fusion.tasks.spatiotemporal",
    HARMONIZE: "fusion.tasks.harmonize",
}

#: The task of a request that names none.
DEFAULT_TASK = SPATIOTEMPORAL
#: The contract's names, imported on first use: fusion.tasks.base reads rasters (rasterio,
#: pystac, shapely), and the task ids and lookups above are all the CLI needs at start-up.
_CONTRACT = ("BlockRead", "FusionTask", "JobLineage", "PairRead", "Role", "TrainingPair")


def __getattr__(name: str) -> Any:
    if name in _CONTRACT:
        from fusion.tasks import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_registered: dict[str, FusionTask] = {}


def register_task(task: FusionTask, *, replace: bool = False) -> FusionTask:
    """Make ``task`` available to requests and model packages under ``task.name`` (a plain
    name: it becomes part of collection ids, product ids and output paths)."""
    from fusion.models.package import NAME_PATTERN

    if not isinstance(task.name, str) or not NAME_PATTERN.match(task.name) or ".." in task.name:
        raise ValueError(
            f"task name {task.name!r} must match {NAME_PATTERN.pattern} (no '/', no '..'): it "
            "becomes part of output paths"
        )
    if not replace and task.name in _registered and _registered[task.name] is not task:
        raise ValueError(f"a task named {task.name!r} is already registered; pass replace=True")
    _registered[task.name] = task
    return task


def unregister_task(name: str) -> None:
    """Forget a registered plug-in task (built-in tasks come back on the next lookup)."""
    _registered.pop(name, None)


def list_tasks() -> list[str]:
    """Ids of every built-in and registered task, sorted."""
    return sorted({*BUILTIN_TASKS, *_registered})


def get_task(name: str) -> FusionTask:
    """The task ``name``; refuses an unknown one with the list of known tasks."""
    task = _registered.get(name)
    if task is not None:
        return task
    module = BUILTIN_TASKS.get(name)
    if module is None:
        raise UnknownNameError(f"task {name!r}: choose one of {', '.join(list_tasks())}")
    from fusion.tasks.base import FusionTask

    task = importlib.import_module(module).TASK
    if not isinstance(task, FusionTask) or task.name != name:
        raise TypeError(f"{module}.TASK is not the FusionTask {name!r}")
    return register_task(task)


__all__ = [
    "BUILTIN_TASKS",
    "DEFAULT_TASK",
    "HARMONIZE",
    "SPATIOTEMPORAL",
    "BlockRead",
    "FusionTask",
    "JobLineage",
    "PairRead",
    "Role",
    "TrainingPair",
    "get_task",
    "list_tasks",
    "register_task",
    "unregister_task",
]
