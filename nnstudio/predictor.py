"""Predictions for one drawn digit or one captcha, from the shipped digit model or a project's model.

Why this exists: the "Draw a digit" page asks for class probabilities on every stroke update, so a
prediction must take well under a millisecond of network time.  :class:`ModelRunner` keeps a private
NumPy copy of a network (weights copied from the given model, which may be training in another thread,
possibly on CuPy) and runs one sample straight through ``Model.forward`` without the batching, checks and
concatenation of ``Model.predict``.  :class:`DigitPredictor` adds the canvas preprocessing
(:func:`nnstudio.data.drawing.preprocess_drawing`) and class names; :class:`CaptchaReader` reads a 4-digit
captcha with a model whose output is (4, 10).  No Qt here: the widgets in ``nnstudio/ui`` use it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nnstudio.data.drawing import preprocess_drawing
from nnstudio.engine.backend import to_host
from nnstudio.engine.model import Model, ModelNode
from nnstudio.errors import UserError
from nnstudio.resources_path import resource

DEFAULT_MODEL = "digits-lenet"
DEFAULT_MODEL_TITLE = "LeNet digits (built in)"
DIGIT_NAMES = [str(i) for i in range(10)]
DIGIT_INPUTS = ((1, 28, 28), (784,))


@dataclass(frozen=True)
class Prediction:
    """Class probabilities for one sample, with the most likely class."""

    probabilities: np.ndarray  # (K,) float, sums to 1
    class_names: list[str]

    @property
    def top(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def top_name(self) -> str:
        return self.class_names[self.top]

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.top])


@dataclass(frozen=True)
class CaptchaReading:
    """The digits read from a captcha, left to right, each with the probability the model gave it."""

    digits: list[int]
    confidences: list[float]
    probabilities: np.ndarray  # (P, 10)

    @property
    def text(self) -> str:
        return "".join(str(d) for d in self.digits)


def clone_model(model: Model) -> Model:
    """A NumPy float32 copy of a built ``model`` with its current weights, sharing nothing with it.

    Predicting on the copy cannot disturb a run that is training the original in another thread (a
    forward pass overwrites what the layers keep for ``backward``).
    """
    if not getattr(model, "built", False):
        raise UserError("the network has not been built yet; train it (or load its weights) first")
    nodes = []
    for nid, node in model.nodes.items():
        layer = node.layer
        copy = None if layer is None else type(layer)(**layer.config())
        nodes.append(ModelNode(nid, copy, list(node.inputs)))
    twin = Model(nodes, model.input_id, model.output_id)
    twin.build(model.input_shape, np, seed=model.seed, dtype=np.float32)
    twin.load_state_dict(model.state_dict())
    return twin


def _softmax_host(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


class ModelRunner:
    """A private NumPy copy of a network, run one sample at a time."""

    def __init__(self, model: Model, name: str = "", copy: bool = True) -> None:
        self.model = clone_model(model) if copy else model
        if self.model.xp is not np:
            self.model = clone_model(self.model)
        self.name = name
        self.input_shape: tuple[int, ...] = tuple(self.model.input_shape)
        self.output_shape: tuple[int, ...] = tuple(self.model.output_shape)
        # The output is read as probabilities: a softmax at the end is used as it is; raw scores (no
        # softmax) are turned into probabilities here.
        self._needs_softmax = self.model.output_activation != "softmax"

    def update_weights(self, source: Model | dict[str, np.ndarray]) -> None:
        """Copy new weights (a model being trained, or a state dict) into the private copy."""
        state = source.state_dict() if isinstance(source, Model) else source
        self.model.load_state_dict(state, source=self.name or "the network")

    def _batch_of_one(self, sample: np.ndarray) -> np.ndarray:
        sample = np.asarray(sample, dtype=np.float32)
        if sample.size != int(np.prod(self.input_shape)):
            raise UserError(f"{self.name or 'model'}: expected an input of shape {self.input_shape}, "
                            f"found shape {sample.shape}")
        return np.ascontiguousarray(sample.reshape((1,) + self.input_shape))

    def probabilities(self, sample: np.ndarray) -> np.ndarray:
        """The network's output for one sample as probabilities over the last axis (host float array)."""
        out = np.asarray(to_host(self.model.forward(self._batch_of_one(sample), training=False)))[0]
        return _softmax_host(out.astype(np.float64)) if self._needs_softmax else out.astype(np.float64)

    def activations(self, sample: np.ndarray) -> dict[str, np.ndarray]:
        """Every node's output for one sample (batch axis removed), keyed by node id, as host arrays."""
        self.model.forward(self._batch_of_one(sample), training=False, capture=True)
        captured = {nid: np.array(to_host(value))[0] for nid, value in self.model.activations.items()}
        self.model.activations = {}
        return captured


class DigitPredictor(ModelRunner):
    """Class probabilities for a drawn digit: preprocessing to 28 x 28, then one forward pass."""

    def __init__(self, model: Model, class_names: list[str] | None = None, name: str = "",
                 copy: bool = True) -> None:
        super().__init__(model, name, copy)
        if self.input_shape not in DIGIT_INPUTS:
            raise UserError(f"{name or 'model'}: the drawing canvas feeds 28x28 gray images, so the Input must "
                            f"be [1, 28, 28] or [784]; this network's Input is {list(self.input_shape)}")
        if len(self.output_shape) != 1 or self.output_shape[0] < 2:
            raise UserError(f"{name or 'model'}: expected a classifier with one score per class, shape (K,); "
                            f"this network's output is {self.output_shape}")
        k = self.output_shape[0]
        names = list(class_names) if class_names is not None else (DIGIT_NAMES if k == 10 else
                                                                   [str(i) for i in range(k)])
        if len(names) != k:
            raise UserError(f"{name or 'model'}: {len(names)} class names given for {k} outputs")
        self.class_names = names

    def predict_image(self, image28: np.ndarray) -> Prediction:
        """Probabilities for an already preprocessed (28, 28) image in [0, 1]."""
        return Prediction(self.probabilities(image28), self.class_names)

    def predict_drawing(self, gray: np.ndarray) -> tuple[np.ndarray, Prediction] | None:
        """Preprocess a canvas image (any size, either polarity) and predict; None when it has no ink."""
        image28 = preprocess_drawing(gray)
        if image28 is None:
            return None
        return image28, self.predict_image(image28)


class CaptchaReader(ModelRunner):
    """Reads all digits of a captcha with a network whose output is (positions, 10)."""

    def __init__(self, model: Model, name: str = "", copy: bool = True) -> None:
        super().__init__(model, name, copy)
        if len(self.input_shape) != 3 or self.input_shape[0] != 1:
            raise UserError(f"{name or 'model'}: a captcha model takes gray images [1, H, W]; this network's "
                            f"Input is {list(self.input_shape)}")
        if len(self.output_shape) != 2 or self.output_shape[1] != 10:
            raise UserError(f"{name or 'model'}: a captcha model ends in one 10-way softmax per digit, output "
                            f"(4, 10); this network's output is {self.output_shape}")

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of the captcha images the network reads."""
        return int(self.input_shape[1]), int(self.input_shape[2])

    def read(self, image: np.ndarray) -> CaptchaReading:
        """Read one captcha image: (H, W) float in [0, 1] or uint8, bright ink on dark."""
        image = np.asarray(image)
        values = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
        probs = self.probabilities(values)
        digits = probs.argmax(axis=-1)
        confidence = np.take_along_axis(probs, digits[:, None], axis=-1)[:, 0]
        return CaptchaReading([int(d) for d in digits], [float(c) for c in confidence], probs)


# -- loading -----------------------------------------------------------------------------------------------

def default_model_paths() -> tuple[Path, Path]:
    """The shipped digit model: (project file, weights)."""
    return resource("models", f"{DEFAULT_MODEL}.json"), resource("models", f"{DEFAULT_MODEL}.npz")


def _weights_for(project_path: Path) -> Path:
    from nnstudio.graph.project_file import weights_path_for  # noqa: PLC0415 - keeps imports light

    for candidate in (project_path.with_suffix(".npz"), weights_path_for(project_path)):
        if candidate.is_file():
            return candidate
    raise UserError(f"{project_path.name}: no trained weights found; expected "
                    f"{weights_path_for(project_path).name} beside the project (train it and save first)")


def load_project_model(project_path: str | os.PathLike, weights: str | os.PathLike | None = None) -> Model:
    """Compile a project file's network on NumPy and load its trained weights."""
    from nnstudio.graph.compile import compile_graph  # noqa: PLC0415
    from nnstudio.graph.project_file import load_project  # noqa: PLC0415

    path = Path(project_path)
    project = load_project(path)
    model = compile_graph(project.graph, "numpy", seed=0)
    model.load_npz(Path(weights) if weights is not None else _weights_for(path))
    return model


def load_digit_predictor(project_path: str | os.PathLike, weights: str | os.PathLike | None = None,
                         class_names: list[str] | None = None) -> DigitPredictor:
    """A predictor for a saved project (its input must be 28 x 28 gray)."""
    path = Path(project_path)
    return DigitPredictor(load_project_model(path, weights), class_names, name=path.name, copy=False)


@lru_cache(maxsize=1)
def _default_model() -> Model:
    project, weights = default_model_paths()
    if not project.is_file() or not weights.is_file():
        raise UserError(f"the shipped digit model is missing ({project.name} / {weights.name} in "
                        f"{project.parent}); reinstall NN Studio or run tools/train_digit_model.py")
    return load_project_model(project, weights)


def default_predictor() -> DigitPredictor:
    """A predictor for the shipped LeNet digit model (the model is read from disk once per process)."""
    return DigitPredictor(_default_model(), DIGIT_NAMES, name=DEFAULT_MODEL_TITLE)


def is_digit_model(model: Any) -> bool:
    """Whether ``model`` (a built engine Model) can read the canvas: 28 x 28 gray in, K >= 2 classes out."""
    if not isinstance(model, Model) or not model.built:
        return False
    out = tuple(model.output_shape)
    return tuple(model.input_shape) in DIGIT_INPUTS and len(out) == 1 and out[0] >= 2


def is_captcha_model(model: Any) -> bool:
    """Whether ``model`` reads captchas: gray [1, H, W] in, (P, 10) out."""
    if not isinstance(model, Model) or not model.built:
        return False
    shape, out = tuple(model.input_shape), tuple(model.output_shape)
    return len(shape) == 3 and shape[0] == 1 and len(out) == 2 and out[1] == 10


__all__ = ["CaptchaReader", "CaptchaReading", "DigitPredictor", "ModelRunner", "Prediction",
           "clone_model", "default_model_paths", "default_predictor", "is_captcha_model", "is_digit_model",
           "load_digit_predictor", "load_project_model"]
