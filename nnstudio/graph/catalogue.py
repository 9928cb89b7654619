"""The block catalogue: the one table every front end reads.

Each block type is described once, as data: its parameters (kind, default, range, choices), its titles,
descriptions, formula and help in English and Simplified Chinese, the engine layer it compiles to and the
ONNX operators it exports as.  The palette, the inspector, tooltips, the validator, the project loader,
the exporters and the documentation all read this table, so adding a block is one entry here plus one
engine layer.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from nnstudio.errors import UserError
from nnstudio.i18n import _

PARAM_KINDS = ("int", "float", "choice", "bool", "int_or_same", "shape", "int_pair")
# "choice_list": a non-empty subset of the parameter's choices, kept in the choices' order (Features).
PARAM_KINDS += ("choice_list",)
GROUPS = ("Input", "Layers", "Activations", "Merge", "Regularisation")


def _is_int_like(value: Any) -> bool:
    """An int, or a float / numpy number holding a whole value (JSON may write 3 as 3.0)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer()


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a block: what it holds, its default and range, and how to show it to a person."""

    name: str
    kind: str
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    label_en: str = ""
    label_zh: str = ""
    help_en: str = ""
    help_zh: str = ""
    # "shape" parameters only: whether one entry may be -1 ("infer this size"), as in Reshape.
    allow_infer: bool = False
    # "choice" parameters: (value, English title, Chinese title) shown instead of the stored value.
    choice_titles: tuple[tuple[str, str, str], ...] = ()
    # When the parameter means something: pairs (other parameter, values it must hold), all of which must
    # hold.  Empty: always.  The inspector hides a parameter that does not apply (alpha unless leaky_relu).
    applies_when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"ParamSpec {self.name!r}: unknown kind {self.kind!r}; expected one of {PARAM_KINDS}")

    def _fail(self, block_label: str, expected: str, value: Any) -> UserError:
        return UserError(_("{label}: {name} must be {expected}. Received: {name}={value}").format(
            label=block_label, name=self.name, expected=expected, value=repr(value)))

    def _check_range(self, number: float, block_label: str) -> None:
        if self.min is not None and number < self.min:
            raise self._fail(block_label, _("at least {min}").format(min=_fmt(self.min)), number)
        if self.max is not None and number > self.max:
            raise self._fail(block_label, _("at most {max}").format(max=_fmt(self.max)), number)

    def validate(self, value: Any, block_label: str) -> Any:
        """``value`` coerced to this parameter's kind (JSON numbers, lists), or UserError naming the field."""
        kind = self.kind
        if kind == "int":
            if not _is_int_like(value):
                raise self._fail(block_label, _("a whole number"), value)
            number = int(value)
            self._check_range(number, block_label)
            return number
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
                raise self._fail(block_label, _("a number"), value)
            number = float(value)
            self._check_range(number, block_label)
            return number
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if _is_int_like(value) and int(value) in (0, 1):
                return bool(int(value))
            raise self._fail(block_label, _("true or false"), value)
        if kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise self._fail(block_label, _("one of {choices}").format(
                    choices=", ".join(repr(c) for c in self.choices)), value)
            return value
        if kind == "choice_list":
            expected = _("a non-empty list of {choices} without repeats").format(choices=", ".join(self.choices))
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise self._fail(block_label, expected, value)
            chosen = list(value)
            if (not chosen or len(set(map(repr, chosen))) != len(chosen)
                    or not all(isinstance(c, str) and c in self.choices for c in chosen)):
                raise self._fail(block_label, expected, chosen)
            return [c for c in self.choices if c in chosen]
        if kind == "int_pair":
            return self._validate_pair(value, block_label, _("a whole number or two (height, width) such as [3, 2]"))
        if kind == "int_or_same":
            if isinstance(value, (list, tuple)):
                return self._validate_pair(value, block_label,
                                           _('a whole number, two (height, width) such as [1, 0], or "same"'))
            if isinstance(value, str):
                word = value.strip().lower()
                if word == "same":
                    return "same"
                if word == "valid":
                    return 0
                raise self._fail(block_label, _('a whole number or "same"'), value)
            if not _is_int_like(value):
                raise self._fail(block_label, _('a whole number or "same"'), value)
            number = int(value)
            self._check_range(number, block_label)
            return number
        # kind == "shape"
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise self._fail(block_label, _("a list of sizes such as [1, 28, 28]"), value)
        items = list(value)
        if not items or not all(_is_int_like(d) for d in items):
            raise self._fail(block_label, _("a non-empty list of whole numbers such as [1, 28, 28]"), items)
        dims = [int(d) for d in items]
        if len(dims) > 4:
            raise self._fail(block_label, _("a list of at most 4 sizes"), dims)
        infer = dims.count(-1)
        if self.allow_infer and infer <= 1:
            bad = [d for d in dims if d != -1 and d < 1]
        else:
            bad = [d for d in dims if d < 1]
        if bad:
            what = _("positive sizes, with at most one -1 to infer") if self.allow_infer else _("positive sizes")
            raise self._fail(block_label, what, dims)
        if self.max is not None and any(d > self.max for d in dims):
            raise self._fail(block_label, _("sizes of at most {max}").format(max=_fmt(self.max)), dims)
        return dims

    def _validate_pair(self, value: Any, block_label: str, expected: str) -> int | list[int]:
        """One whole number, or two (height, width), each in range: 3 -> 3, [3, 3] -> 3, [3, 2] -> [3, 2]."""
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if len(items) not in (1, 2) or not all(_is_int_like(v) for v in items):
            raise self._fail(block_label, expected, value)
        numbers_ = [int(v) for v in items]
        for number in numbers_:
            self._check_range(number, block_label)
        if len(numbers_) == 1 or numbers_[0] == numbers_[1]:
            return numbers_[0]
        return numbers_

    def applies(self, params: Any, spec: "BlockSpec | None" = None) -> bool:
        """Whether this parameter means something given the block's other ``params`` (defaults fill gaps
        when ``spec`` is given)."""
        for other, values in self.applies_when:
            if isinstance(params, dict) and other in params:
                value = params[other]
            elif spec is not None and other in spec.param_names:
                value = spec.param(other).default
            else:
                value = None
            if value not in values:
                return False
        return True

    def choice_title(self, value: Any, lang: str = "en") -> str:
        """How a person reads choice ``value`` ("ReLU" for relu, "Max pooling" for max); the value itself
        when the catalogue has no title for it."""
        for choice, en, zh in self.choice_titles:
            if choice == value:
                return zh if lang.startswith("zh") and zh else en
        return str(value)

    def label(self, lang: str = "en") -> str:
        return self.label_zh if lang.startswith("zh") else self.label_en

    def help(self, lang: str = "en") -> str:
        return self.help_zh if lang.startswith("zh") else self.help_en


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


@dataclass(frozen=True)
class BlockSpec:
    """One block type: parameters, texts in English and Chinese, formula, engine layer and ONNX operators."""

    type: str
    group: str
    params: tuple[ParamSpec, ...]
    n_inputs: int  # 0 for Input, 1, or -1 for "two or more" (merge blocks)
    title_en: str
    title_zh: str
    description_en: str
    description_zh: str
    formula: str
    help_en: str
    help_zh: str
    onnx_ops: tuple[str, ...] = ()
    engine_layer: str | None = None
    # Other words people search for this block by ("max pooling", "MLP", "池化"), beyond its titles.
    keywords_en: tuple[str, ...] = ()
    keywords_zh: tuple[str, ...] = ()
    _index: dict[str, ParamSpec] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"BlockSpec {self.type!r}: unknown group {self.group!r}; expected one of {GROUPS}")
        if self.n_inputs not in (0, 1, -1):
            raise ValueError(f"BlockSpec {self.type!r}: n_inputs must be 0, 1 or -1")
        self._index.update({p.name: p for p in self.params})
        for p in self.params:
            for other, _values in p.applies_when:
                if other not in self._index:
                    raise ValueError(f"BlockSpec {self.type!r}: {p.name} applies when {other!r}, "
                                     "which is not one of its parameters")

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def applicable_params(self, params: Any) -> tuple[ParamSpec, ...]:
        """The parameters that mean something with these ``params`` (see :attr:`ParamSpec.applies_when`)."""
        return tuple(p for p in self.params if p.applies(params, self))

    def param(self, name: str) -> ParamSpec:
        """The spec of parameter ``name``; UserError listing the block's parameters when unknown."""
        try:
            return self._index[name]
        except (KeyError, TypeError):
            known = ", ".join(self.param_names) or "none"
            raise UserError(f"{self.type}: unknown parameter {name!r}; its parameters are: {known}") from None

    def defaults(self) -> dict[str, Any]:
        """A fresh dict of every parameter's default (lists copied)."""
        return {p.name: list(p.default) if isinstance(p.default, list) else p.default for p in self.params}

    def validate_params(self, params: Any, block_label: str | None = None) -> dict[str, Any]:
        """Defaults filled in and every value validated; UserError for an unknown name or a bad value."""
        label = block_label or self.type
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise UserError(_("{label}: params must be a mapping of parameter names to values. Received: "
                              "{kind}").format(label=label, kind=type(params).__name__))
        unknown = [k for k in params if k not in self._index]
        if unknown:
            known = ", ".join(self.param_names) or "none"
            raise UserError(_("{label}: unknown parameter {name}; {type} takes: {known}").format(
                label=label, name=repr(unknown[0]), type=self.type, known=known))
        out = self.defaults()
        for name, value in params.items():
            out[name] = self._index[name].validate(value, label)
        return out

    def title(self, lang: str = "en") -> str:
        return self.title_zh if lang.startswith("zh") else self.title_en

    def description(self, lang: str = "en") -> str:
        return self.description_zh if lang.startswith("zh") else self.description_en

    def help(self, lang: str = "en") -> str:
        return self.help_zh if lang.startswith("zh") else self.help_en


@dataclass(frozen=True)
class ActivationInfo:
    """Title, formula and help for one activation function (the Activation block's ``function``)."""

    function: str
    title_en: str
    title_zh: str
    formula: str
    help_en: str
    help_zh: str


BLOCKS: dict[str, BlockSpec] = {}


def register_block(spec: BlockSpec) -> BlockSpec:
    """Add ``spec`` to :data:`BLOCKS`; a type registered twice is a bug and raises ValueError."""
    if spec.type in BLOCKS:
        raise ValueError(f"block type {spec.type!r} is already registered")
    BLOCKS[spec.type] = spec
    return spec


def get_block(block_type: Any) -> BlockSpec:
    """The spec of ``block_type``; UserError naming it and listing the known types when it is unknown."""
    spec = BLOCKS.get(block_type) if isinstance(block_type, str) else None
    if spec is None:
        raise UserError(f"unknown block type {block_type!r}; known types are: {', '.join(BLOCKS)}")
    return spec


# --------------------------------------------------------------------------------------------------
# Activation functions
# --------------------------------------------------------------------------------------------------

ACTIVATION_INFO: dict[str, ActivationInfo] = {a.function: a for a in (
    ActivationInfo(
        "relu", "ReLU", "ReLU（线性整流）", "f(z) = max(0, z)",
        "Passes positive values unchanged and sets negative ones to zero. Cheap to compute, its gradient is 1 "
        "for positive inputs, which eases the vanishing-gradient problem, and it makes activations sparse. "
        "The default choice for hidden layers of CNNs and MLPs.",
        "正值原样通过，负值置为零。计算代价低；正输入处梯度恒为 1，缓解了梯度消失问题，并使激活稀疏。"
        "是卷积网络和多层感知机隐藏层的默认选择。"),
    ActivationInfo(
        "leaky_relu", "Leaky ReLU", "Leaky ReLU（带泄漏线性整流）", "f(z) = z if z > 0, else α·z",
        "Like ReLU but lets a small slope α through for negative inputs, so units never stop learning "
        "completely (no 'dead' ReLUs). Used in hidden layers, notably in GANs.",
        "与 ReLU 类似，但负输入处保留一个小斜率 α，使神经元不会完全停止学习（避免“死亡 ReLU”）。"
        "用于隐藏层，在生成对抗网络中尤其常见。"),
    ActivationInfo(
        "sigmoid", "Sigmoid", "Sigmoid（S 型函数）", "σ(z) = 1 / (1 + e^−z)",
        "Squashes any value into (0, 1), so an output reads as a probability. Saturates for large |z|, where "
        "its gradient vanishes. Used for the output of binary (yes/no) and multi-label classifiers.",
        "把任意值压缩到 (0, 1) 区间，输出可解释为概率。|z| 较大时饱和，梯度趋于消失。"
        "用于二分类（是/否）和多标签分类器的输出层。"),
    ActivationInfo(
        "tanh", "Tanh", "Tanh（双曲正切）", "tanh(z) = (e^z − e^−z) / (e^z + e^−z)",
        "Squashes values into (−1, 1) and is zero-centred, which often trains faster than sigmoid in hidden "
        "layers. Saturates for large |z|. Used in early MLPs and the hidden layers of classic RNNs and LSTMs.",
        "把值压缩到 (−1, 1) 区间，且以零为中心，在隐藏层中通常比 Sigmoid 训练得更快。|z| 较大时饱和。"
        "用于早期的多层感知机以及经典循环神经网络和 LSTM 的隐藏层。"),
    ActivationInfo(
        "softmax", "Softmax", "Softmax（归一化指数）", "softmax(z)_i = e^{z_i} / Σ_j e^{z_j}",
        "Turns a vector of scores into a probability distribution: every output is positive and they sum "
        "to 1. Used as the output of multi-class classifiers, together with the cross-entropy loss.",
        "把一组分数转换为概率分布：每个输出都为正且总和为 1。用于多分类器的输出层，与交叉熵损失配合使用。"),
    ActivationInfo(
        "sign", "Sign (step)", "符号函数（阶跃）", "sign(z) = +1 if z ≥ 0, else −1",
        "The perceptron's step: outputs +1 or −1. Its true derivative is zero almost everywhere, so training "
        "passes the gradient straight through. Used with the perceptron loss to show Rosenblatt's perceptron.",
        "感知机的阶跃函数：输出 +1 或 −1。其真实导数几乎处处为零，因此训练时梯度直接穿过。"
        "与感知机损失一起使用，用来演示 Rosenblatt 的感知机。"),
    ActivationInfo(
        "linear", "Linear (identity)", "线性（恒等）", "f(z) = z",
        "Passes values unchanged. Used for the output of regression networks, where any real value is allowed.",
        "原样输出，不做变换。用于回归网络的输出层，此时输出可以是任意实数。"),
)}

# --------------------------------------------------------------------------------------------------
# Names people read: messages and menus say "cross-entropy" and "ReLU", files keep cross_entropy and relu
# --------------------------------------------------------------------------------------------------

# (English as written mid-sentence, Chinese)
LOSS_DISPLAY_NAMES: dict[str, tuple[str, str]] = {
    "mse": ("mean squared error (MSE)", "均方误差（MSE）"),
    "cross_entropy": ("cross-entropy", "交叉熵"),
    "binary_cross_entropy": ("binary cross-entropy", "二元交叉熵"),
    "perceptron": ("perceptron loss", "感知机损失"),
    "hinge": ("hinge loss", "合页损失"),
}

ACTIVATION_DISPLAY_NAMES: dict[str, tuple[str, str]] = {
    "relu": ("ReLU", "ReLU"),
    "leaky_relu": ("Leaky ReLU", "Leaky ReLU"),
    "sigmoid": ("sigmoid", "Sigmoid"),
    "tanh": ("tanh", "Tanh"),
    "softmax": ("softmax", "Softmax"),
    "sign": ("sign", "符号函数"),
    "linear": ("linear (identity)", "线性（恒等）"),
}


def loss_name(loss: Any, lang: str = "en") -> str:
    """A loss as people write it ("cross-entropy" for cross_entropy); unknown names as they are."""
    names = LOSS_DISPLAY_NAMES.get(loss) if isinstance(loss, str) else None
    if names is None:
        return str(loss)
    return names[1] if lang.startswith("zh") else names[0]


def activation_name(function: Any, lang: str = "en") -> str:
    """An activation function as people write it ("ReLU" for relu); unknown names as they are."""
    names = ACTIVATION_DISPLAY_NAMES.get(function) if isinstance(function, str) else None
    if names is None:
        return str(function)
    return names[1] if lang.startswith("zh") else names[0]


# --------------------------------------------------------------------------------------------------
# Shared parameter specs
# --------------------------------------------------------------------------------------------------

_INIT = ParamSpec(
    "init", "choice", "he", choices=("he", "glorot", "lecun", "normal", "zeros"),
    label_en="Initialiser", label_zh="初始化方法",
    help_en="How the weights start: he (for ReLU), glorot (for tanh/sigmoid), lecun, small normal, or zeros "
            "(only for demonstrations: every unit then learns the same thing).",
    help_zh="权重的初始值：he（适合 ReLU）、glorot（适合 tanh/sigmoid）、lecun、小方差正态分布，"
            "或全零（仅用于演示：所有单元会学到相同的东西）。",
    choice_titles=(("he", "He", "He"), ("glorot", "Glorot (Xavier)", "Glorot（Xavier）"),
                   ("lecun", "LeCun", "LeCun"), ("normal", "Small normal", "小方差正态分布"),
                   ("zeros", "Zeros (demonstration)", "全零（演示用）")))

_BLOCK_LIST: tuple[BlockSpec, ...] = (
    BlockSpec(
        "Input", "Input",
        (ParamSpec("shape", "shape", [1, 28, 28], min=1, max=65536,
                   label_en="Sample shape", label_zh="样本形状",
                   help_en="The shape of one sample without the batch axis: [channels, height, width] for "
                           "images, [features] for vectors.",
                   help_zh="单个样本的形状（不含批次维度）：图像为 [通道, 高, 宽]，向量为 [特征数]。"),),
        0, "Input", "输入",
        "Where samples enter the network.", "样本进入网络的入口。",
        "x ∈ ℝ^shape",
        "The network's entry point. Its shape must match the dataset's samples, e.g. [1, 28, 28] for MNIST "
        "digits or [2] for points in the plane. Every network has exactly one Input.",
        "网络的入口。其形状必须与数据集的样本一致，例如 MNIST 手写数字为 [1, 28, 28]，平面上的点为 [2]。"
        "每个网络有且只有一个输入块。",
        (), None,
        keywords_en=("data", "samples", "image"), keywords_zh=("数据", "样本", "图像")),
    BlockSpec(
        "Dense", "Layers",
        (ParamSpec("units", "int", 10, min=1, max=65536, label_en="Units", label_zh="神经元数",
                   help_en="Number of outputs (neurons).", help_zh="输出（神经元）的个数。"),
         ParamSpec("use_bias", "bool", True, label_en="Use bias", label_zh="使用偏置",
                   help_en="Add a learned bias b to every output.", help_zh="为每个输出加上一个可学习的偏置 b。"),
         _INIT),
        1, "Dense (fully connected)", "全连接层",
        "Every output is a weighted sum of all inputs.", "每个输出都是全部输入的加权和。",
        "y = W·x + b",
        "A fully connected layer: each of its units computes a weighted sum of every input value plus a bias. "
        "Inputs of any shape are flattened first. It has in×units weights, so it is the layer with most "
        "parameters in small networks. Used in MLPs and as the classifier head at the end of CNNs.",
        "全连接层：每个单元计算所有输入值的加权和再加上偏置。任意形状的输入会先被展平。"
        "它有 输入数×单元数 个权重，因此在小型网络中通常是参数最多的层。用于多层感知机，以及卷积网络末端的分类头。",
        ("Flatten", "Gemm"), "Dense",
        keywords_en=("fully connected", "linear layer", "MLP", "perceptron", "neurons", "FC"),
        keywords_zh=("全连接", "线性层", "多层感知机", "感知机", "神经元")),
    BlockSpec(
        "Conv2D", "Layers",
        (ParamSpec("filters", "int", 8, min=1, max=1024, label_en="Filters", label_zh="卷积核个数",
                   help_en="Number of kernels, i.e. output channels (feature maps).",
                   help_zh="卷积核的个数，即输出通道（特征图）数。"),
         ParamSpec("kernel_size", "int_pair", 3, min=1, max=31, label_en="Kernel size", label_zh="卷积核大小",
                   help_en="Height and width k of each kernel: one number for a square kernel, or two "
                           "(height, width) such as 3, 2.",
                   help_zh="每个卷积核的高和宽 k：一个数表示正方形卷积核，或两个数（高, 宽），例如 3, 2。"),
         ParamSpec("stride", "int_pair", 1, min=1, max=16, label_en="Stride", label_zh="步幅",
                   help_en="How many pixels the kernel moves between positions: one number, or two "
                           "(down, across).",
                   help_zh="卷积核每次移动的像素数：一个数，或两个数（纵向, 横向）。"),
         ParamSpec("padding", "int_or_same", 0, min=0, max=31, label_en="Padding", label_zh="填充",
                   help_en='Zeros added around the image: one number for every side, two (rows above and '
                           'below, columns left and right), or "same" to keep the size (divided by the stride).',
                   help_zh='在图像四周补零：一个数表示每边的圈数；两个数（上下各补的行数, 左右各补的列数）；'
                           '或 "same"，使输出尺寸保持不变（再除以步幅）。'),
         _INIT),
        1, "Conv2D (convolution)", "二维卷积层",
        "Slides learned kernels over an image to detect local patterns.", "用可学习的卷积核在图像上滑动，检测局部模式。",
        "y[f] = Σ_c W[f,c] ⋆ x[c] + b[f];  H_out = ⌊(H + 2p − k)/s⌋ + 1",
        "Each filter is a small k×k×channels kernel slid over the image; its output at each position is the "
        "weighted sum of the patch under it. Weights are shared across positions, so it needs far fewer "
        "parameters than a Dense layer and detects a pattern wherever it appears. The building block of CNNs "
        "such as LeNet, AlexNet and ResNet. Expects inputs shaped (channels, height, width).",
        "每个卷积核是一个 k×k×通道数 的小权重块，在图像上滑动；每个位置的输出是其覆盖区域的加权和。"
        "权重在各位置共享，因此参数远少于全连接层，且无论图案出现在哪里都能检测到。"
        "它是 LeNet、AlexNet、ResNet 等卷积神经网络的基本组件。输入形状须为 (通道, 高, 宽)。",
        ("Conv",), "Conv2D",
        keywords_en=("convolution", "convolutional", "CNN", "filter", "kernel", "feature map"),
        keywords_zh=("卷积", "卷积核", "卷积神经网络", "滤波器", "特征图")),
    BlockSpec(
        "Pool2D", "Layers",
        (ParamSpec("mode", "choice", "max", choices=("max", "avg"), label_en="Mode", label_zh="方式",
                   help_en="Max pooling keeps the largest value of each window; average pooling keeps their mean.",
                   help_zh="最大池化取每个窗口中的最大值；平均池化取平均值。",
                   choice_titles=(("max", "Max pooling", "最大池化"), ("avg", "Average pooling", "平均池化"))),
         ParamSpec("size", "int_pair", 2, min=1, max=16, label_en="Window size", label_zh="窗口大小",
                   help_en="Height and width of each pooling window: one number, or two (height, width).",
                   help_zh="每个池化窗口的高和宽：一个数，或两个数（高, 宽）。"),
         ParamSpec("stride", "int_pair", 0, min=0, max=16, label_en="Stride", label_zh="步幅",
                   help_en="Pixels between windows, one number or two (down, across); 0 means the same as "
                           "the window size (no overlap).",
                   help_zh="窗口之间的像素间隔，一个数或两个数（纵向, 横向）；0 表示与窗口大小相同（窗口不重叠）。"),
         ParamSpec("padding", "int_pair", 0, min=0, max=8, label_en="Padding", label_zh="填充",
                   help_en="Rows and columns added around the image, at most half the window: one number, or "
                           "two (rows, columns). Max pooling never picks the padding; average pooling divides "
                           "by the real pixels only.",
                   help_zh="在图像四周补充的行数和列数，最多为窗口的一半：一个数，或两个数（行, 列）。"
                           "最大池化不会选中填充；平均池化只除以真实像素的个数。")),
        1, "Pool2D (pooling)", "二维池化层",
        "Shrinks feature maps by keeping the max or mean of each window.", "取每个窗口的最大值或平均值来缩小特征图。",
        "max: y = max_{window} x;  avg: y = (1/k²) Σ_{window} x;  H_out = ⌊(H + 2p − k)/s⌋ + 1",
        "Downsamples each channel by summarising every k×k window with its maximum (max pooling) or its mean "
        "(average pooling). It has no parameters, makes the network tolerant to small shifts and reduces "
        "the computation of later layers. Used between convolution stages in CNNs such as LeNet and VGG.",
        "对每个通道降采样：用每个 k×k 窗口的最大值（最大池化）或平均值（平均池化）来概括该窗口。"
        "它没有参数，使网络对小的平移不敏感，并减少后续层的计算量。用于 LeNet、VGG 等卷积网络的卷积阶段之间。",
        ("MaxPool", "AveragePool"), "Pool2D",
        keywords_en=("max pooling", "average pooling", "avg pooling", "mean pooling", "maxpool", "avgpool",
                     "downsample", "subsampling"),
        keywords_zh=("池化", "最大池化", "平均池化", "下采样", "降采样")),
    BlockSpec(
        "Flatten", "Layers", (), 1, "Flatten", "展平",
        "Turns an image-shaped tensor into a vector.", "把图像形状的张量变成一个向量。",
        "y = vec(x),  (C, H, W) → (C·H·W)",
        "Lays out all values of a sample in one vector, without changing them. Placed where the convolutional "
        "part of a CNN meets its Dense classifier (Dense also flattens on its own).",
        "把一个样本的所有值排成一个向量，数值本身不变。放在卷积网络的卷积部分与全连接分类器之间"
        "（全连接层本身也会自动展平）。",
        ("Flatten",), "Flatten",
        keywords_en=("vector", "vectorise", "flat"), keywords_zh=("展平", "拉平", "向量")),
    BlockSpec(
        "Reshape", "Layers",
        (ParamSpec("shape", "shape", [1, 28, 28], min=-1, max=65536, allow_infer=True,
                   label_en="Target shape", label_zh="目标形状",
                   help_en="The new shape of each sample; one size may be -1 to infer it. The number of "
                           "values must stay the same.",
                   help_zh="每个样本的新形状；可以有一个尺寸为 -1 表示自动推断。数值总个数必须保持不变。"),),
        1, "Reshape", "重塑形状",
        "Gives each sample a new shape with the same number of values.", "在数值个数不变的前提下改变每个样本的形状。",
        "y = reshape(x, shape),  ∏ shape = ∏ x.shape",
        "Rearranges the values of each sample into a new shape, for example a 784-value vector into a "
        "1×28×28 image so that convolutions can follow. No values change and it has no parameters.",
        "把每个样本的数值重新排列成新的形状，例如把 784 个值的向量变成 1×28×28 的图像，以便后接卷积层。"
        "数值不变，也没有参数。",
        ("Reshape",), "Reshape",
        keywords_en=("shape", "view", "unflatten"), keywords_zh=("形状", "变形")),
    BlockSpec(
        "Activation", "Activations",
        (ParamSpec("function", "choice", "relu", choices=tuple(ACTIVATION_INFO),
                   label_en="Function", label_zh="函数",
                   help_en="The non-linearity applied to every value: ReLU, Leaky ReLU, sigmoid, tanh, "
                           "softmax, sign or linear.",
                   help_zh="逐元素应用的非线性函数：ReLU、Leaky ReLU、Sigmoid、Tanh、Softmax、符号函数或线性函数。",
                   choice_titles=tuple((a.function, a.title_en, a.title_zh) for a in ACTIVATION_INFO.values())),
         ParamSpec("alpha", "float", 0.01, min=0.0, max=1.0, label_en="Alpha (leaky slope)",
                   label_zh="Alpha（泄漏斜率）",
                   help_en="Slope for negative inputs; used only by Leaky ReLU.",
                   help_zh="负输入处的斜率；仅 Leaky ReLU 使用。",
                   applies_when=(("function", ("leaky_relu",)),))),
        1, "Activation", "激活函数",
        "Applies a non-linear function to every value.", "对每个值应用一个非线性函数。",
        "y = f(z)",
        "Applies a non-linearity such as ReLU, sigmoid, tanh or softmax. Without non-linearities, a stack of "
        "layers is just one linear map; with them, a network can learn curved decision boundaries. Softmax or "
        "sigmoid at the output turn scores into probabilities.",
        "应用 ReLU、Sigmoid、Tanh、Softmax 等非线性函数。没有非线性函数时，多层叠加仍只是一个线性映射；"
        "有了它们，网络才能学习弯曲的决策边界。输出层的 Softmax 或 Sigmoid 把分数转换为概率。",
        ("Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax", "Sign", "Identity"), "Activation",
        # the functions' names and titles (ACTIVATION_INFO) are searched too, see search_text()
        keywords_en=("non-linearity", "nonlinearity", "activation function", "logistic", "step", "identity"),
        keywords_zh=("激活", "非线性", "激活函数", "逻辑函数", "阶跃")),
    BlockSpec(
        "Add", "Merge", (), -1, "Add", "相加",
        "Adds two or more inputs of the same shape.", "把两个或更多形状相同的输入逐元素相加。",
        "y = x₁ + x₂ + … + xₙ",
        "Sums its inputs element by element; all must have the same shape. Used for residual (skip) "
        "connections as in ResNet, where a block's input is added to its output so gradients flow easily.",
        "逐元素求和，所有输入的形状必须相同。用于 ResNet 中的残差（跳跃）连接：把一个模块的输入加到其输出上，"
        "使梯度更容易传播。",
        ("Add",), "Add",
        keywords_en=("sum", "residual", "skip connection", "ResNet", "merge"),
        keywords_zh=("求和", "残差", "跳跃连接", "合并")),
    BlockSpec(
        "Concat", "Merge",
        (ParamSpec("axis", "int", 0, min=-4, max=3, label_en="Axis", label_zh="拼接轴",
                   help_en="The sample axis to join along: 0 is channels for images, features for vectors.",
                   help_zh="沿哪个样本轴拼接：对图像 0 表示通道，对向量表示特征。"),),
        -1, "Concat", "拼接",
        "Joins two or more inputs along one axis.", "沿一个轴把两个或更多输入连接起来。",
        "y = [x₁ ‖ x₂ ‖ … ‖ xₙ] along axis",
        "Stacks its inputs along one axis, e.g. the feature maps of parallel branches along the channel axis "
        "as in GoogLeNet's Inception modules or U-Net's skip connections. The other sizes must match.",
        "把输入沿一个轴堆叠起来，例如像 GoogLeNet 的 Inception 模块或 U-Net 的跳跃连接那样，"
        "把并行分支的特征图沿通道轴拼接。其余维度的大小必须一致。",
        ("Concat",), "Concat",
        keywords_en=("concatenate", "join", "stack", "merge", "Inception"),
        keywords_zh=("连接", "拼接", "合并", "堆叠")),
    BlockSpec(
        "Dropout", "Regularisation",
        (ParamSpec("rate", "float", 0.5, min=0.0, max=0.95, label_en="Rate", label_zh="丢弃率",
                   help_en="Fraction of values set to zero during training.",
                   help_zh="训练时被置零的数值所占的比例。"),),
        1, "Dropout", "随机失活",
        "Randomly zeroes values during training to reduce overfitting.", "训练时随机把一部分值置零，以减少过拟合。",
        "training: y = m ⊙ x / (1 − p),  m ~ Bernoulli(1 − p);  evaluation: y = x",
        "During training, sets each value to zero with probability p and scales the rest by 1/(1−p); at "
        "evaluation it does nothing. Units cannot rely on specific partners, which reduces overfitting. "
        "Used before the Dense layers of AlexNet-style classifiers.",
        "训练时，每个值以概率 p 被置零，其余值乘以 1/(1−p)；评估时不做任何操作。"
        "这样神经元无法依赖特定的同伴，从而减少过拟合。常用于 AlexNet 类分类器的全连接层之前。",
        ("Dropout",), "Dropout",
        keywords_en=("regularisation", "regularization", "overfitting", "drop out"),
        keywords_zh=("丢弃", "失活", "正则化", "过拟合")),
    BlockSpec(
        "BatchNorm", "Regularisation",
        (ParamSpec("momentum", "float", 0.9, min=0.0, max=0.999, label_en="Momentum", label_zh="动量",
                   help_en="How much of the running statistics is kept at each training step.",
                   help_zh="每个训练步中滑动统计量保留旧值的比例。"),
         ParamSpec("eps", "float", 1e-5, min=1e-12, max=0.1, label_en="Epsilon", label_zh="Epsilon（防除零项）",
                   help_en="Small number added to the variance to avoid dividing by zero.",
                   help_zh="加到方差上的小数，防止除以零。")),
        1, "BatchNorm", "批归一化",
        "Normalises each channel by batch statistics, then scales and shifts.", "用批次统计量归一化每个通道，再缩放和平移。",
        "y = γ · (x − μ) / √(σ² + ε) + β",
        "Normalises each channel (or feature) to zero mean and unit variance using the batch's statistics "
        "during training and running averages at evaluation, then applies a learned scale γ and shift β. "
        "Lets deeper networks train faster with larger learning rates. Used after convolutions in ResNet.",
        "训练时用批次统计量、评估时用滑动平均值，把每个通道（或特征）归一化为均值 0、方差 1，"
        "再应用可学习的缩放 γ 和平移 β。它使更深的网络能以更大的学习率更快地训练。在 ResNet 中用于卷积层之后。",
        ("BatchNormalization",), "BatchNorm",
        keywords_en=("batch normalization", "batch normalisation", "normalise", "normalize", "BN"),
        keywords_zh=("批归一化", "批量归一化", "归一化", "标准化")),
    BlockSpec(
        "Features", "Input",
        (ParamSpec("features", "choice_list", ["x1", "x2"],
                   choices=("x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2"),
                   label_en="Features", label_zh="特征",
                   help_en="Which features of the point (x1, x2) to pass on: any of x1, x2, x1², x2², x1·x2, "
                           "sin(x1), sin(x2), at least one. They come out in this order.",
                   help_zh="把点 (x1, x2) 的哪些特征传给下一层：x1、x2、x1²、x2²、x1·x2、sin(x1)、sin(x2) "
                           "中的任意几个（至少一个），按此顺序输出。",
                   choice_titles=(("x1", "x1", "x1"), ("x2", "x2", "x2"), ("x1_sq", "x1²", "x1²"),
                                  ("x2_sq", "x2²", "x2²"), ("x1x2", "x1·x2", "x1·x2"),
                                  ("sin_x1", "sin(x1)", "sin(x1)"), ("sin_x2", "sin(x2)", "sin(x2)"))),),
        1, "Features (x1, x2)", "特征输入 (x1, x2)",
        "Turns a 2-D point into chosen features such as x1² or sin(x2).",
        "把二维点变成选定的特征，例如 x1² 或 sin(x2)。",
        "(x1, x2) ↦ (x1, x2, x1², x2², x1·x2, sin x1, sin x2) — the chosen ones",
        "Hand-made input features for points in the plane, as in TensorFlow Playground: each chosen feature "
        "becomes one input of the next layer. Good features can replace depth: a circle is not separable by a "
        "straight line in (x1, x2), but in (x1², x2²) it is, so one Dense unit with a sigmoid solves it. It has "
        "no parameters and needs an Input of shape [2]. Used in first lessons on feature engineering.",
        "为平面上的点手工构造输入特征，如同 TensorFlow Playground：每个选中的特征成为下一层的一个输入。"
        "好的特征可以代替深度：圆形数据在 (x1, x2) 中无法用直线分开，但在 (x1², x2²) 中可以，"
        "因此一个带 Sigmoid 的 Dense 单元就能解决它。它没有参数，需要形状为 [2] 的输入。用于特征工程的入门课。",
        ("Mul", "Sin", "Concat"), "Features",
        keywords_en=("feature engineering", "playground", "square", "product", "sine", "polynomial", "feature cross"),
        keywords_zh=("特征工程", "平方", "乘积", "正弦", "多项式", "特征交叉")),
)

for _spec in _BLOCK_LIST:
    register_block(_spec)


# --------------------------------------------------------------------------------------------------
# Short labels for node faces
# --------------------------------------------------------------------------------------------------

def _param(params: Any, spec: BlockSpec, name: str) -> Any:
    if isinstance(params, dict) and name in params:
        return params[name]
    return spec.param(name).default


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pair_text(value: Any, sep: str, square: bool = False) -> str:
    """3 -> "3" (or "3x3" for a ``square`` size), [3, 2] -> "3x2" / "3,2"."""
    if isinstance(value, (list, tuple)):
        return sep.join(_num(v) for v in value)
    return f"{_num(value)}{sep}{_num(value)}" if square else _num(value)


def node_label(block_type: Any, node_id: Any) -> str:
    """How messages name a node: its block and id, "Dense 'd1'" (全连接层 'd1' in Chinese)."""
    from nnstudio.i18n import current_language  # noqa: PLC0415 - tiny; keeps the catalogue's imports plain

    spec = BLOCKS.get(block_type) if isinstance(block_type, str) else None
    kind = spec.title_zh if spec is not None and current_language() == "zh" else block_type
    return f"{kind} '{node_id}'"


def short_label(block_type: str, params: Any = None) -> str:
    """A compact face for a node ("Conv2D 6@5x5 s1 p2", "Dense 120", "ReLU", "MaxPool 2x2").

    Never raises: missing or odd parameters fall back to defaults or are shown as they are.
    """
    spec = BLOCKS.get(block_type) if isinstance(block_type, str) else None
    if spec is None:
        return str(block_type)
    try:
        get = lambda name: _param(params, spec, name)  # noqa: E731 - tiny local accessor
        if block_type == "Input":
            return "Input " + "x".join(_num(d) for d in get("shape"))
        if block_type == "Reshape":
            return "Reshape " + "x".join(_num(d) for d in get("shape"))
        if block_type == "Dense":
            return f"Dense {_num(get('units'))}"
        if block_type == "Conv2D":
            pad = get("padding")
            pad_text = "same" if pad == "same" else f"p{_pair_text(pad, ',')}"
            return (f"Conv2D {_num(get('filters'))}@{_pair_text(get('kernel_size'), 'x', square=True)} "
                    f"s{_pair_text(get('stride'), ',')} {pad_text}")
        if block_type == "Pool2D":
            mode, size, stride, pad = get("mode"), get("size"), get("stride"), get("padding")
            name = "MaxPool" if mode == "max" else "AvgPool"
            text = f"{name} {_pair_text(size, 'x', square=True)}"
            if stride not in (0, None) and stride != size:
                text += f" s{_pair_text(stride, ',')}"
            if pad not in (0, None):
                text += f" p{_pair_text(pad, ',')}"
            return text
        if block_type == "Dropout":
            return f"Dropout {_num(get('rate'))}"
        if block_type == "Activation":
            function = get("function")
            info = ACTIVATION_INFO.get(function) if isinstance(function, str) else None
            return {"relu": "ReLU", "leaky_relu": "LeakyReLU", "sigmoid": "Sigmoid", "tanh": "Tanh",
                    "softmax": "Softmax", "sign": "Sign", "linear": "Linear"}.get(
                function, info.title_en if info else str(function))
        if block_type == "Concat":
            axis = get("axis")
            return "Concat" if axis == 0 else f"Concat axis {_num(axis)}"
        if block_type == "Features":
            chosen, choices = get("features"), spec.param("features")
            return ", ".join(choices.choice_title(c) for c in choices.choices if c in chosen)
    except (TypeError, ValueError, UserError):
        return block_type
    return block_type


def _search_words(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("-", " ").split())


def search_text(spec: BlockSpec) -> str:
    """Everything a block is searched by, lower case: type, titles, descriptions, keywords, group, the
    titles of its choices (so "relu" or "max pool" find it) and, for Activation, its functions' names."""
    words = [spec.type, spec.title_en, spec.title_zh, spec.description_en, spec.description_zh, spec.group,
             *spec.keywords_en, *spec.keywords_zh]
    for p in spec.params:
        if p.name == "init":  # how weights start is not what a block does ("norm" should not find Dense)
            continue
        for value, en, zh in p.choice_titles:
            words += [value, en, zh]
    if spec.type == "Activation":
        for info in ACTIVATION_INFO.values():
            words += [info.function, info.title_en, info.title_zh]
    return _search_words(" | ".join(words))


def matches_search(spec: BlockSpec, query: str) -> bool:
    """Whether every word of ``query`` occurs in the block's :func:`search_text` (an empty query matches).
    Underscores and hyphens count as spaces, so "leaky_relu", "max-pool" and "max pool" all work."""
    haystack = search_text(spec)
    squeezed = haystack.replace(" ", "")
    return all(word in haystack or word in squeezed for word in _search_words(query).split())


def activation_for_search(query: str) -> str | None:
    """The activation function a palette search names ("softmax", "leaky relu", 双曲正切), so the Activation
    block it finds is added with that function; None when the query names none or several ("relu" names
    ReLU: a query equal to a function's name or title wins over those that merely contain it)."""
    words = _search_words(query)
    if not words:
        return None
    exact, partial = [], []
    for info in ACTIVATION_INFO.values():
        names = [_search_words(n) for n in (info.function, info.title_en, info.title_zh)]
        if words in names or words.replace(" ", "") in [n.replace(" ", "") for n in names]:
            exact.append(info.function)
        elif all(any(w in n or w in n.replace(" ", "") for n in names) for w in words.split()):
            partial.append(info.function)
    found = exact or partial
    return found[0] if len(found) == 1 else None


def block_types(group: str | None = None) -> list[str]:
    """Registered block types in catalogue order, optionally only those of ``group`` (for the palette)."""
    return [t for t, s in BLOCKS.items() if group is None or s.group == group]


def params_table_markdown() -> str:
    """A Markdown table of every block's parameters (pasted into docs/project-format.md)."""
    rows = ["| Block | Parameter | Kind | Default | Range / choices | Meaning |",
            "|---|---|---|---|---|---|"]
    for spec in BLOCKS.values():
        if not spec.params:
            rows.append(f"| {spec.type} | — | | | | no parameters |")
        for p in spec.params:
            if p.choices:
                allowed = ", ".join(p.choices)
            elif p.kind == "bool":
                allowed = "true, false"
            elif p.min is not None or p.max is not None:
                lo = "" if p.min is None else _fmt(p.min)
                hi = "" if p.max is None else _fmt(p.max)
                allowed = f"{lo} … {hi}" + (' or "same"' if p.kind == "int_or_same" else "")
                if p.kind == "shape":
                    allowed = f"list of sizes ≤ {hi}" + (", one may be -1" if p.allow_infer else "")
            else:
                allowed = ""
            default = str(p.default).lower() if isinstance(p.default, bool) else str(p.default)
            rows.append(f"| {spec.type} | `{p.name}` | {p.kind} | {default} | {allowed} | {p.help_en} |")
    return "\n".join(rows)
