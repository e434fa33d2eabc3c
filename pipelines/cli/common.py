"""What the ``fusion`` commands share: parameter types, progress and logging, the options
spelled the same in several commands, and the FusionError -> exit code 2 wrapper."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from fusion.errors import ConfigError, FusionError
from fusion.request_options import REQUEST_OPTIONS, RequestOption, parse_roles

P = ParamSpec("P")
R = TypeVar("R")
FC = TypeVar("FC", bound=Callable[..., Any])


class DateType(click.ParamType[dt.date]):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2023-04-01", param, ctx)


class CsvType(click.ParamType[tuple[str, ...]]):
    name = "A,B,..."

    def __init__(self, choices: tuple[str, ...] | None = None):
        self.choices = choices

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        items = tuple(v.strip() for v in str(value).split(",") if v.strip())
        if not items:
            self.fail("give at least one value", param, ctx)
        if self.choices is not None:
            bad = [v for v in items if v not in self.choices]
            if bad:
                self.fail(f"{', '.join(bad)} not among {', '.join(self.choices)}", param, ctx)
        return items


class RolesType(click.ParamType[dict[str, str]]):
    """ROLE=ID,ROLE=ID (the request's ``collections``)."""

    name = "ROLE=ID,..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, str]:
        try:
            return parse_roles(value, param.name if param is not None and param.name else "collections")
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


DATE = DateType()


def _click_type(option: RequestOption) -> Any:
    if option.kind == "int":
        return click.IntRange(option.minimum)
    return {"date": DATE, "list": CsvType(), "roles": RolesType()}.get(option.kind, str)


def request_options(f: FC) -> FC:
    """One click option per request field a launch may set (``fusion run``, ``fusion launch``),
    generated from :data:`fusion.request_options.REQUEST_OPTIONS` - the same fields, spellings
    and help as the Beam options and Flex Template parameters. The command receives them as
    keyword arguments by field name (None when not given); pass them to
    :func:`fusion.request_options.apply_options`."""
    for option in reversed(REQUEST_OPTIONS):
        f = click.option(option.flag, option.name, type=_click_type(option), help=option.help)(f)
    return f


def exit_on_fusion_error(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn FusionError into a clean one-line message and exit code 2, and Ctrl-C into
    "interrupted; re-run ... to resume" and exit code 130 (no traceback either way).

    Apply it to a command function, below the click decorators. Other exceptions pass through.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except FusionError as exc:
            # Beam re-raises a stage's error with "[while running 'Stage/Step']" appended.
            message = re.sub(r"(\s*\[while running '[^']*'\])+$", "", str(exc))
            click.echo(f"error: {message}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo(
                "\ninterrupted; re-run the same request to resume: finished products are kept "
                "and skipped, unfinished ones are redone",
                err=True,
            )
            # Beam's worker threads may still be reading or writing; leave without waiting for
            # them (scratch folders are removed by the run, or by the next one).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)

    return wrapper


def beam_arguments(args: list[str]) -> list[str]:
    """``args`` (what a command got after ``--``) if every option in it is an Apache Beam
    pipeline option; else a usage error naming the unknown one and the nearest Beam option
    (e.g. ``--direct_num_workers``), so nothing the user typed is silently ignored."""
    import difflib

    from apache_beam.options.pipeline_options import PipelineOptions

    known = set(PipelineOptions([]).get_all_options())
    expects_value = False
    for token in args:
        if not token.startswith("--"):
            if not expects_value:
                raise click.UsageError(
                    f"unexpected argument {token!r}; Beam options after `--` are written --name value "
                    "or --name=value"
                )
            expects_value = False
            continue
        name = token[2:].split("=", 1)[0].replace("-", "_")
        if name not in known:
            near = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean --{near[0]}?" if near else ""
            raise click.UsageError(f"no such Beam pipeline option {token.split('=', 1)[0]!r}{hint}")
        expects_value = "=" not in token
    return list(args)


def stderr_progress(quiet: bool) -> Any:
    start = time.perf_counter()

    def report(message: str) -> None:
        if not quiet:
            click.echo(f"[{time.perf_counter() - start:6.1f}s] {message}", err=True)

    return report


class _DropFusionErrors:
    """A logging filter that drops records of a FusionError (or of an error it caused) and of
    Ctrl-C: the command reports both itself, in one line."""

    def filter(self, record: Any) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, FusionError | KeyboardInterrupt):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


def setup_logging(quiet: bool) -> None:
    import logging

    logger = logging.getLogger("eo-fusion")
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.propagate = False  # Beam configures the root logger; do not print twice
    # A FusionError raised inside a stage reaches the command, which prints it as one clean
    # line; Beam's own log of it (with the traceback) would bury that line.
    beam_errors = logging.getLogger("apache_beam.runners.common")
    if not any(isinstance(f, _DropFusionErrors) for f in beam_errors.filters):
        beam_errors.addFilter(_DropFusionErrors())
    # Beam's own INFO chatter (runner choice, type-hint notes) hides our progress lines.
    logging.getLogger("apache_beam").setLevel(logging.WARNING)


# Options spelled, typed and described the same in several commands (the others stay with
# their command: their help or default differs).


def quiet_option(f: FC) -> FC:
    """-q/--quiet (every command that reports progress)."""
    return click.option("-q", "--quiet", is_flag=True, help="No progress messages.")(f)


def target_period_options(required: bool = False) -> Callable[[FC], FC]:
    """--start/--end as required target dates (training-set, evaluate simulated)."""

    def apply(f: FC) -> FC:
        f = click.option("--end", type=DATE, required=required, help="Last target date (inclusive).")(f)
        return click.option("--start", type=DATE, required=required, help="First target date (inclusive).")(f)

    return apply


def evaluation_tiling_options(f: FC) -> FC:
    """--tiles/--tile-size/--block-size of the evaluate subcommands that fuse."""
    f = click.option("--block-size", type=click.IntRange(16), default=512, show_default=True)(f)
    f = click.option("--tile-size", type=click.IntRange(16), default=1024, show_default=True)(f)
    return click.option("--tiles", type=CsvType(), help="Grid tile ids. [every tile]")(f)


def report_out_option(f: FC) -> FC:
    """--out of the evaluate subcommands that fuse."""
    return click.option(
        "--out",
        "out_dir",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Report folder; products go to OUT/products (reused when present).",
    )(f)
