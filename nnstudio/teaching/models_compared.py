"""The five classic models side by side: linear, logistic and softmax regression, the perceptron, the MLP.

A course on neural networks meets these five first, and they are easiest to learn as variations of one
another: the same weighted sum ``w·x + b``, followed by a different output function and trained with a
different loss.  This module holds that comparison as data, in English and Simplified Chinese, so the
"Models compared" page (and the documentation) render it, and each model names the example project that
builds it in the editor (``resources/examples/<example>.json``).
"""
from __future__ import annotations

from dataclasses import dataclass

# The aspects compared, in display order: (key, English heading, Chinese heading).
ASPECTS: tuple[tuple[str, str, str], ...] = (
    ("task", "Task", "任务"),
    ("output", "Output", "输出"),
    ("model", "Model", "模型"),
    ("activation", "Output activation", "输出激活函数"),
    ("loss", "Loss (objective)", "损失（目标函数）"),
    ("boundary", "Geometry / decision boundary", "几何意义 / 决策边界"),
    ("training", "How it is trained", "训练方法"),
    ("relation", "How it relates to the others", "与其他模型的关系"),
)


@dataclass(frozen=True)
class ModelCard:
    """One column of the comparison: a model's name and each aspect, in both languages."""

    key: str
    example: str  # resources/examples/<example>.json builds this model
    name_en: str
    name_zh: str
    en: dict[str, str]
    zh: dict[str, str]

    def name(self, lang: str = "en") -> str:
        return self.name_zh if lang.startswith("zh") else self.name_en

    def text(self, aspect: str, lang: str = "en") -> str:
        table = self.zh if lang.startswith("zh") else self.en
        return table[aspect]


MODELS: tuple[ModelCard, ...] = (
    ModelCard(
        "linear_regression", "linear-regression", "Linear regression", "线性回归",
        en={
            "task": "Regression: predict a real number",
            "output": "ŷ ∈ ℝ, any real value",
            "model": "ŷ = w·x + b",
            "activation": "None (identity)",
            "loss": "Mean squared error  ½(ŷ − y)² averaged",
            "boundary": "A straight line (a hyperplane) fitted through the points",
            "training": "Gradient descent, or solved exactly (least squares)",
            "relation": "The common core: every other model here starts with this weighted sum",
        },
        zh={
            "task": "回归：预测一个实数",
            "output": "ŷ ∈ ℝ，任意实数",
            "model": "ŷ = w·x + b",
            "activation": "无（恒等）",
            "loss": "均方误差 ½(ŷ − y)² 的平均",
            "boundary": "穿过数据点拟合的一条直线（超平面）",
            "training": "梯度下降，或直接求解（最小二乘）",
            "relation": "共同的核心：这里的其他模型都从这个加权和出发",
        }),
    ModelCard(
        "logistic_regression", "logistic-regression", "Logistic regression", "逻辑回归",
        en={
            "task": "Binary classification (yes / no)",
            "output": "p ∈ (0, 1), the probability of class 1",
            "model": "p = σ(w·x + b)",
            "activation": "Sigmoid σ(z) = 1 / (1 + e^−z)",
            "loss": "Binary cross-entropy  −[y log p + (1 − y) log(1 − p)]",
            "boundary": "A straight line w·x + b = 0 where p = 0.5",
            "training": "Gradient descent; the gradient is simply (p − y)·x",
            "relation": "Linear regression squashed by a sigmoid; softmax regression with 2 classes",
        },
        zh={
            "task": "二分类（是 / 否）",
            "output": "p ∈ (0, 1)，属于类别 1 的概率",
            "model": "p = σ(w·x + b)",
            "activation": "Sigmoid σ(z) = 1 / (1 + e^−z)",
            "loss": "二元交叉熵 −[y log p + (1 − y) log(1 − p)]",
            "boundary": "直线 w·x + b = 0，即 p = 0.5 处",
            "training": "梯度下降；梯度就是 (p − y)·x",
            "relation": "用 Sigmoid 压缩后的线性回归；只有 2 个类别的 Softmax 回归",
        }),
    ModelCard(
        "softmax_regression", "softmax-regression", "Softmax regression", "Softmax 回归",
        en={
            "task": "Multi-class classification (K classes)",
            "output": "A probability for each class, summing to 1",
            "model": "p = softmax(W·x + b)",
            "activation": "Softmax e^{z_i} / Σ_j e^{z_j}",
            "loss": "Cross-entropy  −log p_y",
            "boundary": "Straight lines between classes: the plane is cut into K convex regions",
            "training": "Gradient descent; the gradient of the scores is p − onehot(y)",
            "relation": "Logistic regression generalised to K classes; the last layer of most classifiers",
        },
        zh={
            "task": "多分类（K 个类别）",
            "output": "每个类别一个概率，总和为 1",
            "model": "p = softmax(W·x + b)",
            "activation": "Softmax e^{z_i} / Σ_j e^{z_j}",
            "loss": "交叉熵 −log p_y",
            "boundary": "类别之间是直线：平面被分成 K 个凸区域",
            "training": "梯度下降；分数的梯度是 p − onehot(y)",
            "relation": "逻辑回归推广到 K 个类别；大多数分类器的最后一层",
        }),
    ModelCard(
        "perceptron", "perceptron-and", "Perceptron", "感知机",
        en={
            "task": "Binary classification (+1 / −1)",
            "output": "A hard decision: +1 or −1",
            "model": "ŷ = sign(w·x + b)",
            "activation": "Sign (step) function",
            "loss": "Perceptron loss  max(0, −y·(w·x + b))",
            "boundary": "A straight line; it converges only if the classes are linearly separable",
            "training": "Rosenblatt's rule: on a mistake, w ← w + η·y·x",
            "relation": "Logistic regression with a hard step instead of a probability; the unit an MLP stacks",
        },
        zh={
            "task": "二分类（+1 / −1）",
            "output": "硬判决：+1 或 −1",
            "model": "ŷ = sign(w·x + b)",
            "activation": "符号（阶跃）函数",
            "loss": "感知机损失 max(0, −y·(w·x + b))",
            "boundary": "一条直线；只有类别线性可分时才会收敛",
            "training": "Rosenblatt 规则：分错时 w ← w + η·y·x",
            "relation": "把概率换成硬阶跃的逻辑回归；多层感知机堆叠的基本单元",
        }),
    ModelCard(
        "mlp", "mlp-xor", "Multi-layer perceptron (MLP)", "多层感知机（MLP）",
        en={
            "task": "Classification or regression",
            "output": "As its last layer: a value, a probability or a distribution",
            "model": "ŷ = f₂(W₂·h + b₂),  h = g(W₁·x + b₁)",
            "activation": "Hidden: ReLU / tanh; output: softmax, sigmoid or none",
            "loss": "Cross-entropy for classes, mean squared error for values",
            "boundary": "Curved: hidden layers bend the space, so it can separate XOR and spirals",
            "training": "Backpropagation (the chain rule) with gradient descent",
            "relation": "Stacked perceptrons with smooth activations, ending in one of the models on the left",
        },
        zh={
            "task": "分类或回归",
            "output": "取决于最后一层：一个数值、一个概率或一个分布",
            "model": "ŷ = f₂(W₂·h + b₂)，h = g(W₁·x + b₁)",
            "activation": "隐藏层：ReLU / tanh；输出层：Softmax、Sigmoid 或无",
            "loss": "分类用交叉熵，数值用均方误差",
            "boundary": "弯曲的：隐藏层使空间弯折，因此能分开异或（XOR）和螺旋数据",
            "training": "反向传播（链式法则）加梯度下降",
            "relation": "用平滑激活函数堆叠起来的感知机，最后一层就是左边的某个模型",
        }),
)


def model_card(key: str) -> ModelCard:
    """The card named ``key``; KeyError listing the keys when unknown."""
    for card in MODELS:
        if card.key == key:
            return card
    raise KeyError(f"no model card {key!r}; known: {', '.join(c.key for c in MODELS)}")


def aspect_title(aspect: str, lang: str = "en") -> str:
    for key, en, zh in ASPECTS:
        if key == aspect:
            return zh if lang.startswith("zh") else en
    raise KeyError(f"unknown aspect {aspect!r}")
