"""The comparison data lists the five classic models with every aspect in English and Chinese."""
from __future__ import annotations

import re

from nnstudio.teaching.models_compared import ASPECTS, MODELS, aspect_title, model_card

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_five_models_in_course_order() -> None:
    assert [m.key for m in MODELS] == ["linear_regression", "logistic_regression", "softmax_regression",
                                       "perceptron", "mlp"]


def test_every_aspect_is_filled_in_both_languages() -> None:
    keys = [k for k, _, _ in ASPECTS]
    assert {"task", "output", "loss", "activation", "boundary", "relation"} <= set(keys)
    for card in MODELS:
        assert set(card.en) == set(keys) == set(card.zh), card.key
        for key in keys:
            assert card.text(key, "en").strip() and card.text(key, "zh").strip()
        assert CJK.search(card.name("zh")) and not CJK.search(card.name("en"))
        # Each Chinese row is a translation, not a copy: most rows contain Chinese characters.
        assert sum(bool(CJK.search(card.zh[k])) for k in keys) >= len(keys) - 2, card.key


def test_lookup_helpers() -> None:
    assert model_card("perceptron").name("en") == "Perceptron"
    assert aspect_title("loss", "zh") == "损失（目标函数）"
    assert "sign" in model_card("perceptron").text("model")
    assert "σ" in model_card("logistic_regression").text("model")


def test_each_model_names_an_installed_example_project() -> None:
    from nnstudio.graph.project_file import load_project
    from nnstudio.resources_path import resource
    for card in MODELS:
        path = resource("examples", f"{card.example}.json")
        assert path.is_file(), f"{card.key}: missing example {path.name}"
        assert load_project(path).graph.nodes
