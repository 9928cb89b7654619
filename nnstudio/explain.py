"""Why the network said what it said: saliency maps and Grad-CAM, in the Input's own pixel grid.

Why this exists: a learner who sees "7, 98 %" wants to know which pixels made it say 7.  Two standard answers:

* **Saliency** (Simonyan et al., 2014): the size of the gradient of the predicted class's score with respect
  to each input value, ``|d score_k / d x|``, through the engine's own backward pass to the input (largest over
  the channels of an image).  The score is the class's pre-softmax value (logit) when the network ends in a
  softmax or sigmoid, else its output.
* **Grad-CAM** (Selvaraju et al., 2017), for networks with a Conv2D: the last convolution's feature maps
  (after its ReLU when one follows it directly), each weighted by the mean of the score's gradient over that
  map, summed, passed through a ReLU, then interpolated onto the Input's grid along the receptive-field
  centres of the convolutions and poolings in between.

Both work on a batch at once (each sample is explained for its own predicted class, or a given one) and give
maps scaled to [0, 1] per sample (:attr:`Explanation.maps`; the raw values are in :attr:`Explanation.raw`).
No Qt here: the canvas, the CLI (``nnstudio explain``) and the tests use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from nnstudio.engine.backend import to_device, to_host
from nnstudio.engine.model import Model, apply_activation
from nnstudio.errors import UserError
from nnstudio.i18n import _

METHODS = ("saliency", "gradcam")


@dataclass
class Explanation:
    """Maps for a batch: ``maps[i]`` in [0, 1] (the Input's grid), the class explained and its probability."""

    method: str
    classes: np.ndarray  # (N,) int: the class each map explains
    probabilities: np.ndarray | None  # (N, K) when the output reads as class probabilities
    raw: np.ndarray  # (N, *grid) before scaling: |gradient| for saliency, the ReLU'd map for Grad-CAM
    maps: np.ndarray  # (N, *grid) in [0, 1]


def input_grid(shape: Sequence[int]) -> tuple[int, ...]:
    """The Input's own pixel grid: (C, H, W) -> (H, W); any other shape is its own grid."""
    shape = tuple(int(s) for s in shape)
    return shape[1:] if len(shape) == 3 else shape


def _scaled(raw: np.ndarray) -> np.ndarray:
    flat = raw.reshape(len(raw), -1)
    top = flat.max(axis=1)
    top = np.where(top > 0, top, 1.0)
    return (flat / top[:, None]).reshape(raw.shape)


def _probabilities(out: np.ndarray, activation: str | None) -> np.ndarray:
    """Class probabilities from an (N, K) output that went through ``activation`` (as the predictor reads
    them: a softmax or sigmoid output as it is, raw scores squashed here)."""
    out = out.astype(np.float64)
    if out.shape[1] == 1:
        p = out if activation == "sigmoid" else 1.0 / (1.0 + np.exp(-out))
        return np.concatenate([1.0 - p, p], axis=1)
    if activation == "softmax":
        return out
    z = np.exp(out - out.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _scores_grad(model: Model, x: np.ndarray, target: Any, capture: bool) -> tuple[Any, np.ndarray, np.ndarray]:
    """Forward a host batch; returns (the score gradient to back-propagate, classes, probabilities)."""
    if not model.built:
        raise UserError(_("the network has not been built yet; train it or load its weights first"))
    out_shape = tuple(model.output_shape)
    if len(out_shape) != 1:
        raise UserError(_("explanations need a classifier with one score per class, output (K,); this network's "
                          "output is {shape}").format(shape=out_shape))
    x = np.asarray(x)
    if x.shape[1:] != tuple(model.input_shape):
        raise UserError(f"explain: expected samples of shape {tuple(model.input_shape)}, found a batch of shape "
                        f"{x.shape}")
    xp = model.xp
    logits = np.asarray(to_host(model.forward(to_device(x, xp, model.dtype), training=False, capture=capture,
                                              logits=True)), dtype=np.float64)
    if model.fused:  # the scores are the pre-activation; the probabilities are what the activation makes of them
        probs = _probabilities(np.asarray(apply_activation(np, model.fused, logits)), model.fused)
    else:
        probs = _probabilities(logits, model.output_activation)
    if target is None:
        classes = probs.argmax(axis=1)
    else:
        classes = np.broadcast_to(np.asarray(target, dtype=np.int64), (len(x),)).copy()
        k = max(out_shape[0], 2)
        if classes.min() < 0 or classes.max() >= k:
            raise UserError(f"explain: the class must be between 0 and {k - 1}; found {classes.tolist()}")
    grad = np.zeros(logits.shape, dtype=np.float64)
    if out_shape[0] == 1:  # one sigmoid unit: the score of class 1 is the logit, of class 0 its negative
        grad[:, 0] = np.where(classes == 1, 1.0, -1.0)
    else:
        grad[np.arange(len(x)), classes] = 1.0
    return to_device(grad, xp, model.dtype), classes, probs


def saliency(model: Model, x: np.ndarray, target: Any = None) -> Explanation:
    """|d score / d input| for each sample of the host batch ``x`` (largest over an image's channels)."""
    grad, classes, probs = _scores_grad(model, x, target, capture=False)
    g = np.abs(to_host(model.backward(grad, need_input_grad=True))).astype(np.float64)
    raw = g.max(axis=1) if g.ndim == 4 else g
    return Explanation("saliency", classes, probs, raw, _scaled(raw))


# -- Grad-CAM -------------------------------------------------------------------------------------------------

def last_conv(model: Model) -> str | None:
    """The id of the Conv2D closest to the output (last in execution order), or None."""
    convs = [nid for nid in model.order if nid != model.input_id and model.nodes[nid].layer.type_name == "Conv2D"]
    return convs[-1] if convs else None


def _feature_node(model: Model, conv: str) -> str:
    """The conv's output, or the Activation that alone reads it (Grad-CAM weighs rectified maps)."""
    readers = [nid for nid in model.order if nid != model.input_id and conv in model.nodes[nid].inputs]
    if len(readers) == 1 and model.nodes[readers[0]].layer.type_name == "Activation" and readers[0] != model.output_id:
        return readers[0]
    return conv


def _grid_mapping(model: Model, node: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """(scale, offset) per axis such that cell i of ``node``'s (C, h, w) output is centred on input pixel
    scale * i + offset, traced through the convolutions and poolings back to the Input; None when the path
    holds a layer that does not keep a pixel grid."""
    scale, offset = [1.0, 1.0], [0.0, 0.0]
    nid = node
    while nid != model.input_id:
        n = model.nodes[nid]
        layer = n.layer
        src = n.inputs[0]
        kind = layer.type_name
        if kind == "Conv2D":
            h, w = model.shapes[src][1:]
            top, _, left, _ = layer.pads(h, w)
            steps, kernels, pads = layer.strides, layer.kernel, (top, left)
        elif kind == "Pool2D":
            steps, kernels, pads = layer.strides, layer.kernel, layer.padding
        elif kind in ("Activation", "BatchNorm", "Dropout", "Add", "Concat"):
            steps, kernels, pads = (1, 1), (1, 1), (0, 0)
            if len(model.shapes[src]) != 3 or tuple(model.shapes[src][1:]) != tuple(model.shapes[nid][1:]):
                return None
        else:
            return None
        for a in range(2):
            offset[a] = steps[a] * offset[a] - pads[a] + (kernels[a] - 1) / 2.0
            scale[a] = steps[a] * scale[a]
        nid = src
    return (scale[0], offset[0]), (scale[1], offset[1])


def _interpolation(size_out: int, size_in: int, scale: float, offset: float) -> np.ndarray:
    """(size_out, size_in) linear interpolation weights: row u samples the map at (u - offset) / scale."""
    pos = np.clip((np.arange(size_out, dtype=np.float64) - offset) / scale, 0.0, size_in - 1.0)
    low = np.floor(pos).astype(np.int64)
    high = np.minimum(low + 1, size_in - 1)
    frac = pos - low
    m = np.zeros((size_out, size_in))
    rows = np.arange(size_out)
    np.add.at(m, (rows, low), 1.0 - frac)
    np.add.at(m, (rows, high), frac)
    return m


def gradcam(model: Model, x: np.ndarray, target: Any = None, node: str | None = None) -> Explanation:
    """Grad-CAM of each sample of the host batch ``x`` at the last Conv2D (or ``node``), on the Input's grid."""
    conv = node if node is not None else last_conv(model)
    if conv is None:
        raise UserError(_("Grad-CAM needs a network with a Conv2D layer; this one has none (use saliency "
                          "instead)"))
    if len(tuple(model.input_shape)) != 3:
        raise UserError(_("Grad-CAM needs an image Input (channels, height, width); this network's Input is "
                          "{shape}").format(shape=tuple(model.input_shape)))
    feature = _feature_node(model, conv)
    grad, classes, probs = _scores_grad(model, x, target, capture=True)
    acts = model.activations[feature]
    model.backward(grad, keep=(feature,))
    g = to_host(model.node_grads.pop(feature)).astype(np.float64)
    a = to_host(acts).astype(np.float64)
    model.activations, model.node_grads = {}, {}
    weights = g.mean(axis=(2, 3))  # (N, C): how much each map matters to the score
    cam = np.maximum(np.einsum("nc,nchw->nhw", weights, a), 0.0)
    height, width = (int(s) for s in model.input_shape[1:])
    mapping = _grid_mapping(model, feature)
    h, w = cam.shape[1:]
    if mapping is None:  # spread the map evenly over the input
        mapping = ((height / h, (height / h - 1) / 2.0), (width / w, (width / w - 1) / 2.0))
    (sy, oy), (sx, ox) = mapping
    ry, rx = _interpolation(height, h, sy, oy), _interpolation(width, w, sx, ox)
    raw = np.einsum("yh,nhw,xw->nyx", ry, cam, rx)
    return Explanation("gradcam", classes, probs, raw, _scaled(raw))


def explain(model: Model, x: np.ndarray, method: str = "saliency", target: Any = None) -> Explanation:
    """``saliency`` or ``gradcam`` of the host batch ``x``."""
    if method == "saliency":
        return saliency(model, x, target)
    if method == "gradcam":
        return gradcam(model, x, target)
    raise UserError(f"explain: the method must be one of {', '.join(METHODS)}; found {method!r}")


# -- pictures -------------------------------------------------------------------------------------------------

def heat_colours(values: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 colours for values in [0, 1]: dark blue, purple, orange, pale yellow (like 'inferno')."""
    stops = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float64)
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0) * (len(stops) - 1)
    low = np.minimum(np.floor(v).astype(np.int64), len(stops) - 2)
    frac = (v - low)[..., None]
    return np.clip(stops[low] * (1.0 - frac) + stops[low + 1] * frac + 0.5, 0, 255).astype(np.uint8)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.85) -> np.ndarray:
    """(H, W, 3) uint8: the input ((H, W), or (C, H, W): RGB when C is 3, else the channels' mean), stretched to
    its own range, under the heat map's colours."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[0] == 3:
        image = image.transpose(1, 2, 0)  # RGB
    else:  # gray, or any other number of channels shown as their mean
        image = np.repeat((image.mean(axis=0) if image.ndim == 3 else image)[..., None], 3, axis=2)
    low, high = float(image.min()), float(image.max())
    base = (image - low) / (high - low) if high > low else np.zeros_like(image)
    heat = np.clip(np.asarray(heat, dtype=np.float64), 0.0, 1.0)
    weight = alpha * np.sqrt(heat)[..., None]  # faint heat stays faint, strong heat covers the ink
    dim = 1.0 - 0.55 * (alpha > 0)  # the input dimmed, so the colours read over white ink
    mixed = (1.0 - weight) * base * 255.0 * dim + weight * heat_colours(heat).astype(np.float64)
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def picture_png(image: np.ndarray, heat: np.ndarray, caption: str = "", min_side: int = 224) -> bytes:
    """PNG bytes of the input and the heat map over it, side by side, enlarged with hard pixel edges to at
    least ``min_side`` pixels, with an optional caption underneath.  ``image`` is one sample in the Input's
    shape; ``heat`` a map in [0, 1] on its grid (a flat input of a square size is shown as a square)."""
    from io import BytesIO  # noqa: PLC0415

    from PIL import Image, ImageDraw  # noqa: PLC0415

    image = np.asarray(image, dtype=np.float64)
    heat = np.asarray(heat, dtype=np.float64)
    if heat.ndim == 1:  # a flat input: a square when it is one, else one row
        side = int(round(np.sqrt(heat.size)))
        shape = (side, side) if side * side == heat.size else (1, heat.size)
        heat, image = heat.reshape(shape), image.reshape(shape)
    mixed = overlay(image, heat)
    plain = overlay(image, np.zeros_like(heat), alpha=0.0)
    h, w = heat.shape
    zoom = max(1, -(-min_side // max(h, w)))
    gap = max(4, zoom)
    strip = np.full((h * zoom, 2 * w * zoom + gap, 3), 40, dtype=np.uint8)
    strip[:, :w * zoom] = np.kron(plain, np.ones((zoom, zoom, 1), dtype=np.uint8))
    strip[:, w * zoom + gap:] = np.kron(mixed, np.ones((zoom, zoom, 1), dtype=np.uint8))
    picture = Image.fromarray(strip)
    if caption:
        framed = Image.new("RGB", (picture.width, picture.height + 22), (40, 40, 40))
        framed.paste(picture, (0, 0))
        ImageDraw.Draw(framed).text((6, picture.height + 5), caption, fill=(230, 230, 230))
        picture = framed
    buffer = BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


__all__ = ["Explanation", "METHODS", "explain", "gradcam", "heat_colours", "input_grid", "last_conv", "overlay",
           "picture_png", "saliency"]
