"""The request file reference (``docs/configuration.md``), generated from the request's own
definitions so that it cannot drift from them.

Every field of :class:`fusion.request.FusionRequest` and :class:`fusion.pairing.PairingConfig`
is listed with its type and default taken from the dataclass. The description is the field's
launch option help (:data:`fusion.request_options.REQUEST_OPTIONS`, the text ``--help`` and the
Flex Template show) where it has one, else the ``#:`` or trailing comment on the field in the
source. ``make docs`` rewrites the generated part of the page; ``tests/test_docs.py`` fails when
the page and the code disagree.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

from fusion.pairing import PairingConfig
from fusion.request import FusionRequest
from fusion.request_options import OPTIONS_BY_NAME

BEGIN = "<!-- BEGIN GENERATED: fusion.request_reference (make docs) -->"
END = "<!-- END GENERATED -->"

#: Fields a request file may give that are not dataclass fields (resolved when it is read).
_PERIOD_FIELDS = ("last_days", "lag_days")


def _source_comments(cls: type) -> dict[str, str]:
    """``field -> comment`` from the class source: ``#: text`` lines above a field, or a
    trailing ``# text`` on its line."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = re.match(r"(\w+)\s*:\s*[^=]+(?:=[^#]*)?(?:#:?\s*(.*))?$", stripped)
        if match and not stripped.startswith(("def ", "class ", "return", "@")):
            text = " ".join([*pending, match.group(2) or ""]).strip()
            if text:
                comments[match.group(1)] = text
        pending = []
    return comments


def _type_name(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else str(annotation)
    text = re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", text)
    text = re.sub(r"\b(?:typing|collections\.abc|datetime|fusion\.\w+)\.", "", text)
    text = text.replace("Mapping[str, str]", "mapping ROLE: ID").replace("tuple[str, ...]", "list of str")
    return text.replace(" | None", " or null")


def _default(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "**required**"
    if dataclasses.is_dataclass(value):
        return "see below"
    if value in ("", None) or value == {}:
        return {"model": "the task's default model", "collections": "the task's roles' defaults"}.get(
            field.name, "none"
        )
    return f"`{value}`"


def _description(name: str, comments: dict[str, str]) -> str:
    option = OPTIONS_BY_NAME.get(name)
    text = option.help if option is not None else comments.get(name, "")
    return re.sub(r"\s*\[[^\]]*\]\s*$", "", text).replace("|", "\\|")


def _rows(cls: type, prefix: str = "") -> list[str]:
    comments = _source_comments(cls)
    hints = typing.get_type_hints(cls, include_extras=False, localns={"dt": __import__("datetime")})
    rows = []
    for field in dataclasses.fields(cls):
        annotation = hints.get(field.name, field.type)
        rows.append(
            f"| `{prefix}{field.name}` | {_type_name(annotation)} | {_default(field)} | "
            f"{_description(field.name, comments)} |"
        )
    return rows


def reference_markdown() -> str:
    """The generated part of ``docs/configuration.md`` (between :data:`BEGIN` and :data:`END`)."""
    head = "| field | type | default | what it does |\n|---|---|---|---|"
    period = [f"| `{name}` | int | none | {_description(name, {})} |" for name in _PERIOD_FIELDS]
    lines = [
        BEGIN,
        "",
        "### Top-level fields",
        "",
        head,
        *_rows(FusionRequest),
        *period,
        "",
        "### `pairing:` (spatiotemporal task)",
        "",
        head,
        *_rows(PairingConfig, "pairing."),
        "",
        END,
    ]
    return "\n".join(lines)


def render_page(page: str) -> str:
    """``page`` with its generated part replaced by the current :func:`reference_markdown`."""
    start, end = page.index(BEGIN), page.index(END) + len(END)
    return page[:start] + reference_markdown() + page[end:]
