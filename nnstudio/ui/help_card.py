"""Help cards for blocks and activation functions: what a block does, its formula typeset, its traits.

The catalogue stores formulas as compact plain text ("softmax(z)_i = e^{z_i} / Σ_j e^{z_j}").
:func:`formula_html` typesets them with real superscripts and subscripts and italic variables, so a learner
reads σ(z) = 1 / (1 + e<sup>−z</sup>) rather than a caret.  :func:`help_html` builds a whole card (title,
description, formula, parameters with the node's current values, the worked output size of a convolution
or pooling, and, for activations, the output range, traits and where it is used) in the current language;
:class:`HelpCard` shows it in a QTextBrowser, and the same HTML serves as a tooltip.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QTextBrowser, QWidget

from nnstudio.graph.catalogue import ACTIVATION_INFO, BLOCKS, BlockSpec
from nnstudio.errors import UserError
from nnstudio.ui.i18n import current_language, tr

FORMULA_STYLE = ("font-family:'DejaVu Serif','Noto Serif','Times New Roman',serif; font-size:13pt; "
                 "color:#FFD58A; background:#1B1E25; padding:6px;")
_SCRIPT_TOKEN = re.compile(r"[−\-]?[A-Za-z0-9α-ωΑ-Ω′]+")
# A lone Latin letter is a variable (set in italics), except the English words "a", "A" and "I" before
# another word ("Turns scores into a probability distribution").
_LONE_LETTER = re.compile(r"(?<![A-Za-z&#])(?!(?:a|A|I) [A-Za-z]{2})([A-Za-z])(?![A-Za-z;])")


def _esc(text: str) -> str:
    """HTML-escape text for rich-text widgets (quotes are harmless outside attributes and stay readable)."""
    return html.escape(text, quote=False)


# --------------------------------------------------------------------------------------------------
# formulas
# --------------------------------------------------------------------------------------------------

def _italic_letters(text: str) -> str:
    """Escape ``text`` and set single Latin letters (variables) in italics; words like max stay upright."""
    return _LONE_LETTER.sub(r"<i>\1</i>", _esc(text))


def _matching_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``start`` (the end of the text when unbalanced)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _typeset(text: str) -> str:
    out: list[str] = []
    plain: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "^_" and i + 1 < len(text):
            tag = "sup" if ch == "^" else "sub"
            if text[i + 1] == "{":
                end = _matching_brace(text, i + 1)
                inner, i = text[i + 2:end], end + 1
            else:
                match = _SCRIPT_TOKEN.match(text, i + 1)
                if match is None:
                    plain.append(ch)
                    i += 1
                    continue
                inner, i = match.group(0), match.end()
            out.append(_italic_letters("".join(plain)))
            plain = []
            out.append(f"<{tag}>{_typeset(inner)}</{tag}>")
            continue
        plain.append(ch)
        i += 1
    out.append(_italic_letters("".join(plain)))
    return "".join(out)


def formula_html(text: str, split_lines: bool = True) -> str:
    """``text`` (the catalogue's plain formula notation) as HTML: ``^x`` / ``^{...}`` superscripts,
    ``_x`` / ``_{...}`` subscripts, italic single-letter variables; with ``split_lines`` each
    ``;``-separated formula goes on its own line."""
    parts = [p.strip() for p in text.split(";")] if split_lines else [text.strip()]
    return "<br/>".join(_typeset(p) for p in parts if p)


# --------------------------------------------------------------------------------------------------
# activation traits (range, traits, where used) in both languages
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ActivationTraits:
    output_range: str
    traits_en: tuple[str, ...]
    traits_zh: tuple[str, ...]
    used_en: str
    used_zh: str


ACTIVATION_TRAITS: dict[str, ActivationTraits] = {
    "relu": ActivationTraits(
        "[0, ∞)",
        ("Cheap: one comparison", "Gradient 1 for z > 0, so it eases vanishing gradients",
         "Sparse: negative inputs give exactly 0", "Units can 'die' if they only ever see z < 0"),
        ("计算便宜：只需一次比较", "z > 0 时梯度为 1，缓解梯度消失", "稀疏：负输入的输出恰好为 0",
         "若一个单元始终只收到 z < 0，它可能“死亡”"),
        "Hidden layers of CNNs and MLPs (the default choice)", "卷积网络和多层感知机的隐藏层（默认选择）"),
    "leaky_relu": ActivationTraits(
        "(−∞, ∞)",
        ("Like ReLU, with a small slope α for z < 0", "No dead units: the gradient is never exactly 0"),
        ("与 ReLU 类似，z < 0 时有小斜率 α", "不会出现死亡单元：梯度永远不为 0"),
        "Hidden layers, notably in GANs", "隐藏层，在生成对抗网络中尤为常见"),
    "sigmoid": ActivationTraits(
        "(0, 1)",
        ("Output reads as a probability", "Saturates for large |z|: the gradient vanishes",
         "Not zero-centred"),
        ("输出可以看作概率", "|z| 很大时饱和：梯度消失", "不以零为中心"),
        "Binary and multi-label outputs (logistic regression)", "二分类和多标签分类的输出层（逻辑回归）"),
    "tanh": ActivationTraits(
        "(−1, 1)",
        ("Zero-centred, so hidden layers often train faster than with sigmoid", "Saturates for large |z|",
         "tanh(z) = 2σ(2z) − 1"),
        ("以零为中心，隐藏层通常比 Sigmoid 训练得快", "|z| 很大时饱和", "tanh(z) = 2σ(2z) − 1"),
        "Early MLPs and the hidden layers of classic RNNs and LSTMs", "早期多层感知机，以及经典循环神经网络和 LSTM 的隐藏层"),
    "softmax": ActivationTraits(
        "(0, 1), Σ = 1",
        ("Turns scores into a probability distribution", "Works on the whole vector, not element by element",
         "Paired with cross-entropy, the gradient of the scores is p − t"),
        ("把分数变成概率分布", "作用于整个向量，而不是逐元素", "与交叉熵配合时，分数的梯度是 p − t"),
        "Output of multi-class classifiers (softmax regression)", "多分类器的输出层（Softmax 回归）"),
    "sign": ActivationTraits(
        "{−1, +1}",
        ("A hard decision, no probability", "Derivative 0 almost everywhere: training passes the gradient "
         "straight through"),
        ("硬判决，没有概率", "导数几乎处处为 0：训练时梯度直接穿过"),
        "Rosenblatt's perceptron", "Rosenblatt 感知机"),
    "linear": ActivationTraits(
        "(−∞, ∞)",
        ("Leaves values unchanged", "Layers without a non-linearity collapse into one linear map"),
        ("数值保持不变", "没有非线性时，多层会合并成一个线性映射"),
        "Output of regression networks (linear regression)", "回归网络的输出层（线性回归）"),
}


# --------------------------------------------------------------------------------------------------
# cards
# --------------------------------------------------------------------------------------------------

def _lang(lang: str | None) -> str:
    return lang or current_language()


def _text(lang: str, en: str, zh: str) -> str:
    return zh if lang.startswith("zh") and zh else en


def _formula_block(formula: str) -> str:
    return f"<p style=\"{FORMULA_STYLE}\">{formula_html(formula)}</p>"


def activation_html(function: str, lang: str | None = None, heading: bool = True) -> str:
    """The card body for one activation function (formula, range, traits, where it is used)."""
    lang = _lang(lang)
    info = ACTIVATION_INFO.get(function)
    if info is None:
        return f"<p>{_esc(tr('Unknown activation function {name}', name=function))}</p>"
    parts = []
    if heading:
        parts.append(f"<h3>{_esc(_text(lang, info.title_en, info.title_zh))}</h3>")
    parts.append(_formula_block(info.formula))
    traits = ACTIVATION_TRAITS.get(function)
    if traits is not None:
        items = traits.traits_zh if lang.startswith("zh") else traits.traits_en
        parts.append(f"<p><b>{_esc(tr('Output range'))}:</b> {_esc(traits.output_range)}</p>")
        parts.append(f"<p><b>{_esc(tr('Traits'))}:</b></p><ul>"
                     + "".join(f"<li>{formula_html(t, split_lines=False)}</li>" for t in items) + "</ul>")
        parts.append(f"<p><b>{_esc(tr('Used in'))}:</b> {_esc(_text(lang, traits.used_en, traits.used_zh))}</p>")
    parts.append(f"<p style='color:#9AA3B2'>{_esc(_text(lang, info.help_en, info.help_zh))}</p>")
    return "".join(parts)


def _param_value(spec: BlockSpec, params: dict[str, Any] | None, name: str) -> Any:
    if params and name in params:
        return params[name]
    return spec.param(name).default


def _output_size_example(spec: BlockSpec, params: dict[str, Any] | None, in_shape: Any) -> str:
    """For Conv2D / Pool2D with a known (C, H, W) input: the output-size formula with the numbers put in."""
    if spec.type not in ("Conv2D", "Pool2D") or not in_shape or len(in_shape) != 3:
        return ""
    from nnstudio.graph.layer_map import layer_for  # noqa: PLC0415 - the engine's own size rules

    try:
        _, h, w = (int(d) for d in in_shape)
        values = {p.name: _param_value(spec, params, p.name) for p in spec.params}
        layer = layer_for(spec.type, values, spec.type)
        if spec.type == "Conv2D":
            (kh, _kw), (s, _sw) = layer.kernel, layer.strides
            top, _bottom, _left, _right = layer.pads(h, w)
            p = top
            channels = int(values["filters"])
        else:
            (kh, _kw), (s, _sw), (p, _pw) = layer.kernel, layer.strides, layer.padding
            channels = int(in_shape[0])
        _, oh, ow = layer.output_shape((int(in_shape[0]), h, w))
    except (TypeError, ValueError, UserError):
        return ""
    if spec.type == "Conv2D" and values["padding"] == "same":
        worked = tr("padding “same”: ⌈{h}/{s}⌉ = {oh}", h=h, s=s, oh=oh)
    else:
        worked = f"⌊({h} + 2·{p} − {kh})/{s}⌋ + 1 = {oh}"
    return (f"<p><b>{_esc(tr('With this input'))}:</b> {in_shape[0]}×{h}×{w} → "
            f"{channels}×{oh}×{ow}<br/><span style='font-family:serif'>{_esc(worked)}</span></p>")


def help_html(block_type: str, params: dict[str, Any] | None = None, lang: str | None = None,
              in_shape: Any = None) -> str:
    """The full help card of a block in ``lang`` (default: the interface language).

    ``params`` are the node's current values (defaults otherwise); ``in_shape`` its input shape, used to
    work out a convolution's or a pooling's output size.
    """
    lang = _lang(lang)
    spec = BLOCKS.get(block_type)
    if spec is None:
        return f"<p>{_esc(tr('Unknown block type {name}', name=block_type))}</p>"
    parts = [f"<h2>{_esc(_text(lang, spec.title_en, spec.title_zh))}</h2>",
             f"<p><i>{_esc(_text(lang, spec.description_en, spec.description_zh))}</i></p>"]
    function = str(_param_value(spec, params, "function")) if block_type == "Activation" else ""
    if function in ACTIVATION_INFO:
        parts.append(f"<p>{_esc(_text(lang, spec.help_en, spec.help_zh))}</p>")
        parts.append(activation_html(function, lang))
    else:
        parts.append(_formula_block(spec.formula))
        parts.append(f"<p>{_esc(_text(lang, spec.help_en, spec.help_zh))}</p>")
    parts.append(_output_size_example(spec, params, in_shape))
    # A node's card lists the parameters that apply to its values (no leaky slope for softmax); the
    # reference (no params) lists them all.  Choices read as people write them ("Softmax", "Max pooling").
    shown_params = spec.applicable_params(params) if params is not None else spec.params
    if shown_params:
        rows = []
        for p in shown_params:
            value = _param_value(spec, params, p.name)
            shown = ("same" if value == "same" else
                     p.choice_title(value, lang) if p.kind == "choice" else
                     "×".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value))
            rows.append(f"<tr><td><b>{_esc(p.label(lang) or p.name)}</b></td>"
                        f"<td style='color:#FFD58A'>{_esc(shown)}</td>"
                        f"<td>{_esc(p.help(lang))}</td></tr>")
        parts.append(f"<h4>{_esc(tr('Parameters'))}</h4>"
                     "<table cellspacing='0' cellpadding='3'>" + "".join(rows) + "</table>")
    return "".join(parts)


def tooltip_html(block_type: str, params: dict[str, Any] | None = None, lang: str | None = None) -> str:
    """A short card for tooltips (palette, node faces): title, one-line description, typeset formula."""
    lang = _lang(lang)
    spec = BLOCKS.get(block_type)
    if spec is None:
        return _esc(str(block_type))
    formula = spec.formula
    if block_type == "Activation":
        info = ACTIVATION_INFO.get(str(_param_value(spec, params, "function")))
        if info is not None:
            formula = info.formula
    return (f"<b>{_esc(_text(lang, spec.title_en, spec.title_zh))}</b><br/>"
            f"{_esc(_text(lang, spec.description_en, spec.description_zh))}<br/>"
            f"<span style='font-family:serif'>{formula_html(formula)}</span>")


def reference_html(lang: str | None = None) -> str:
    """Every block's card, then every activation's, with anchors named by block type / function."""
    lang = _lang(lang)
    parts = [f"<a name='{t}'></a>{help_html(t, lang=lang)}<hr/>" for t in BLOCKS]
    parts.append(f"<h2>{_esc(tr('Activation functions'))}</h2>")
    parts += [f"<a name='{f}'></a>{activation_html(f, lang)}" for f in ACTIVATION_INFO]
    return "".join(parts)


class HelpCard(QTextBrowser):
    """A read-only rich-text card for one block (the inspector embeds it) or one activation function."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("helpCard")
        self.setOpenExternalLinks(False)
        self.setReadOnly(True)
        self.block_type: str | None = None
        self._args: tuple[Any, ...] = ()
        self.clear_card()

    def clear_card(self) -> None:
        self.block_type = None
        self._args = ()
        self.setHtml(f"<p style='color:#8A93A3'>{_esc(tr('Select a block to see what it does.'))}</p>")

    def show_block(self, block_type: str, params: dict[str, Any] | None = None, in_shape: Any = None) -> None:
        self.block_type = block_type
        self._args = ("block", block_type, dict(params or {}), in_shape)
        self.setHtml(help_html(block_type, params, in_shape=in_shape))

    def show_activation(self, function: str) -> None:
        self.block_type = "Activation"
        self._args = ("activation", function)
        self.setHtml(activation_html(function))

    def show_reference(self) -> None:
        self.block_type = None
        self._args = ("reference",)
        self.setHtml(reference_html())

    def retranslate(self) -> None:
        """Render the same card again in the current interface language."""
        kind = self._args[0] if self._args else None
        if kind == "block":
            self.show_block(*self._args[1:])
        elif kind == "activation":
            self.show_activation(self._args[1])
        elif kind == "reference":
            self.show_reference()
        else:
            self.clear_card()
