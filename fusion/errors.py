"""The one exception family of eo-fusion.

Every error raised on purpose by eo-fusion is a :class:`FusionError`. Subclasses also inherit
the matching built-in exception so callers can catch either (``except FileNotFoundError`` still
works for :class:`SceneNotFound`). Every message names the bad value and says how to fix it.
"""

from __future__ import annotations


class FusionError(Exception):
    """Base class of every error eo-fusion raises on purpose."""


class ConfigError(FusionError, ValueError):
    """A user-supplied value (flag, request field, grid parameter) is invalid."""


class UnknownNameError(FusionError, KeyError):
    """A registry lookup (sensor, collection, metric, ...) named something that does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class GridError(FusionError, ValueError):
    """Grids or windows that cannot be aligned, or a window outside its grid."""


class CatalogError(FusionError, ValueError):
    """A STAC catalog, collection or item is malformed or missing what eo-fusion needs."""


class SceneNotFound(FusionError, FileNotFoundError):
    """A catalog, item or asset named by the user does not exist."""


class MetricError(FusionError, ValueError):
    """Inputs to a metric have mismatched shapes or no valid pixels."""


class ModelPackageError(FusionError, ValueError):
    """A model package is missing, malformed, or its SavedModel does not match its metadata."""


class BlockReadError(FusionError, OSError):
    """An input asset could not be read for a block (missing, truncated, corrupt, wrong CRS).

    ``asset`` is the href that failed, when one did (dead-letter records name it)."""

    def __init__(self, message: str, asset: str | None = None) -> None:
        super().__init__(message)
        self.asset = asset

    def __str__(self) -> str:  # OSError would format (errno, strerror) otherwise
        return str(self.args[0])


class InputFileError(FusionError, ValueError):
    """A user's own image or mask file (``fusion fuse-files``) cannot be used as given: it does
    not open, has other bands than stated, or lies outside the output grid."""


class LaunchError(FusionError, RuntimeError):
    """A cloud launch cannot start: credentials, project or permissions are missing."""


class OutputPathError(FusionError, ValueError):
    """A name that would place an output file outside the output root (``..``, ``/``, empty)."""


class AuthenticationError(FusionError, PermissionError):
    """A service refused the request's credentials, or their absence (HTTP 401 or 403)."""
