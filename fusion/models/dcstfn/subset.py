"""The networks of a DCSTFN package for a subset of its bands (e.g. a real set's three bands
out of the package's six): a per-band package contributes its networks of those bands, a
multi-band one its network restricted to them (:func:`band_subset_network`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fusion.models import resolve_model
from fusion.models.dcstfn.export import load_networks
from fusion.models.dcstfn.network import DcstfnConfig, build_dcstfn, layer_by_name, leaf_layers
from fusion.models.package import read_metadata
from fusion.training.normalization import NORMALIZATION_TYPES, Normalization


@dataclass
class DcstfnForBands:
    """A DCSTFN package's networks usable on ``bands`` (or why not)."""

    networks: list[object] | None
    variant: str
    normalization: Normalization | None
    reason: str = ""
    residual: bool = False
    naive_residual: bool = False
    fine_skip: bool = False


def dcstfn_for_bands(package: str | Path, bands: Sequence[str]) -> DcstfnForBands:
    """The networks of a DCSTFN package for a band subset: a per-band package contributes its
    networks of those bands, a multi-band one its network restricted to them
    (:func:`band_subset_network`)."""
    root = resolve_model(package)
    meta = read_metadata(root)
    variant = str(meta.parameters.get("variant", ""))
    norm_json = dict(meta.normalization)
    if norm_json.get("type") not in NORMALIZATION_TYPES or variant not in ("per-band", "multi-band"):
        return DcstfnForBands(None, variant, None, f"{root} is not a DCSTFN package")
    missing = [b for b in bands if b not in meta.bands]
    if missing:
        return DcstfnForBands(None, variant, None, f"package has no band(s) {missing}")
    idx = [list(meta.bands).index(b) for b in bands]
    norm = Normalization.from_json(norm_json).subset(idx)
    networks = load_networks(root)
    residual = bool(meta.parameters.get("residual", False))
    naive_residual = bool(meta.parameters.get("naive_residual", False))
    fine_skip = bool(meta.parameters.get("fine_skip", False))
    chosen = [networks[i] for i in idx] if variant == "per-band" else [band_subset_network(networks[0], idx)]
    return DcstfnForBands(
        chosen, variant, norm, residual=residual, naive_residual=naive_residual, fine_skip=fine_skip
    )


def band_subset_network(model: object, idx: Sequence[int]) -> object:
    """A multi-band DCSTFN restricted to the bands ``idx`` (in that order).

    The input kernels of the first convolutions keep the rows of those bands and the last
    layer keeps their outputs; every other weight is copied. This equals running the full
    network with the missing bands at their training mean (zero after normalization), which
    adds nothing to the first convolutions."""
    features = _features_of(model)
    names = {getattr(layer, "name", "") for layer in leaf_layers(model)}
    sub = build_dcstfn(
        DcstfnConfig(
            features,
            len(idx),
            residual="residual" in names,
            naive_residual="naive_residual" in names,
            fine_skip="fine_skip" in names,
        ),
        name="dcstfn_subset",
    )
    first_layers = {"coarse_conv1", "fine_conv1", "fine_skip_conv"}
    for layer in leaf_layers(sub):
        weights = layer_by_name(model, layer.name).get_weights()
        if not weights:
            continue
        if layer.name in first_layers:
            weights = [weights[0][:, :, list(idx), :], weights[1]]
        elif layer.name == "fc2":
            weights = [weights[0][..., list(idx)], weights[1][list(idx)]]
        layer.set_weights(weights)
    return sub


def _features_of(model: object) -> tuple[int, int, int]:
    d0 = int(layer_by_name(model, "coarse_conv1").filters)
    d1 = int(layer_by_name(model, "coarse_conv2").filters)
    d2 = int(layer_by_name(model, "coarse_conv3").filters)
    return d0, d1, d2
