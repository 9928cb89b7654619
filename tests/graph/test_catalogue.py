"""The block catalogue: complete texts in both languages, valid specs, and parameter validation."""
from __future__ import annotations

import re

import pytest

from nnstudio.engine.layers import ACTIVATION_FUNCTIONS, LAYER_TYPES
from nnstudio.engine.init import INITIALIZERS
from nnstudio.errors import UserError
from nnstudio.graph.catalogue import (ACTIVATION_INFO, BLOCKS, GROUPS, BlockSpec, ParamSpec, block_types,
                                      get_block, params_table_markdown, register_block, short_label)

CJK = re.compile(r"[\u4e00-\u9fff]")
EXPECTED = {"Input", "Dense", "Conv2D", "Pool2D", "Dropout", "Activation", "Flatten", "Reshape", "Add", "Concat",
            "BatchNorm"}


def test_every_required_block_is_registered():
    assert EXPECTED <= set(BLOCKS)


@pytest.mark.parametrize("block_type", sorted(BLOCKS))
def test_block_has_texts_in_english_and_chinese(block_type):
    spec = BLOCKS[block_type]
    assert spec.type == block_type and spec.group in GROUPS
    for text in (spec.title_en, spec.description_en, spec.help_en, spec.formula):
        assert text.strip()
    for text in (spec.title_zh, spec.description_zh, spec.help_zh):
        assert CJK.search(text), f"{block_type}: Chinese text missing: {text!r}"
    assert "\n" not in spec.description_en and "\n" not in spec.description_zh
    assert len(spec.help_en) > len(spec.description_en)
    for p in spec.params:
        assert p.label_en.strip() and p.help_en.strip(), (block_type, p.name)
        assert CJK.search(p.label_zh) or p.label_zh.isascii() and p.label_zh.strip(), (block_type, p.name)
        assert CJK.search(p.help_zh), (block_type, p.name)
        # every default passes its own validation
        assert p.validate(p.default, block_type) == p.default


@pytest.mark.parametrize("block_type", sorted(BLOCKS))
def test_block_maps_to_an_engine_layer_and_onnx(block_type):
    spec = BLOCKS[block_type]
    if block_type == "Input":
        assert spec.n_inputs == 0 and spec.engine_layer is None
        return
    assert spec.engine_layer in LAYER_TYPES
    assert spec.onnx_ops and all(op[0].isupper() for op in spec.onnx_ops)
    assert spec.n_inputs == LAYER_TYPES[spec.engine_layer].n_inputs


def test_choices_match_the_engine():
    assert set(get_block("Activation").param("function").choices) == set(ACTIVATION_FUNCTIONS)
    assert set(ACTIVATION_INFO) == set(ACTIVATION_FUNCTIONS)
    assert set(get_block("Dense").param("init").choices) == set(INITIALIZERS)
    assert set(get_block("Conv2D").param("init").choices) == set(INITIALIZERS)


def test_activation_info_texts_and_formulas():
    for name, info in ACTIVATION_INFO.items():
        assert info.function == name and info.formula and info.help_en and CJK.search(info.help_zh)
    assert "max(0, z)" in ACTIVATION_INFO["relu"].formula
    assert "1 / (1 + e^−z)" in ACTIVATION_INFO["sigmoid"].formula
    assert "Σ_j" in ACTIVATION_INFO["softmax"].formula
    assert "(0, 1)" in ACTIVATION_INFO["sigmoid"].help_en
    assert "perceptron" in ACTIVATION_INFO["sign"].help_en
    assert "⌊(H + 2p − k)/s⌋ + 1" in get_block("Conv2D").formula


def test_defaults_from_the_brief():
    assert get_block("Input").defaults() == {"shape": [1, 28, 28]}
    assert get_block("Dense").defaults() == {"units": 10, "use_bias": True, "init": "he"}
    assert get_block("Conv2D").defaults() == {"filters": 8, "kernel_size": 3, "stride": 1, "padding": 0,
                                              "init": "he"}
    assert get_block("Pool2D").defaults() == {"mode": "max", "size": 2, "stride": 0, "padding": 0}
    assert get_block("Dropout").defaults() == {"rate": 0.5}
    assert get_block("Activation").defaults() == {"function": "relu", "alpha": 0.01}
    assert get_block("Concat").defaults() == {"axis": 0}
    assert get_block("BatchNorm").defaults() == {"momentum": 0.9, "eps": 1e-5}
    assert get_block("Flatten").defaults() == {} and get_block("Add").n_inputs == -1


def test_defaults_are_fresh_copies():
    spec = get_block("Input")
    spec.defaults()["shape"].append(5)
    assert spec.defaults() == {"shape": [1, 28, 28]}


def test_validate_coerces_and_names_the_field():
    conv = get_block("Conv2D")
    with pytest.raises(UserError, match=re.escape("Conv2D 'c2': kernel_size must be at least 1. "
                                                  "Received: kernel_size=-3")):
        conv.param("kernel_size").validate(-3, "Conv2D 'c2'")
    assert conv.param("kernel_size").validate(5.0, "c") == 5 and isinstance(
        conv.param("kernel_size").validate(5.0, "c"), int)
    with pytest.raises(UserError, match="whole number"):
        conv.param("filters").validate(2.5, "Conv2D 'c'")
    with pytest.raises(UserError, match="whole number"):
        conv.param("filters").validate(True, "Conv2D 'c'")
    with pytest.raises(UserError, match="at most 1024"):
        conv.param("filters").validate(5000, "Conv2D 'c'")
    assert conv.param("padding").validate("same", "c") == "same"
    assert conv.param("padding").validate("SAME", "c") == "same"
    assert conv.param("padding").validate(2, "c") == 2
    with pytest.raises(UserError, match='whole number or "same"'):
        conv.param("padding").validate("full", "Conv2D 'c'")
    drop = get_block("Dropout").param("rate")
    assert drop.validate(0, "d") == 0.0 and isinstance(drop.validate(0, "d"), float)
    with pytest.raises(UserError, match="at most 0.95"):
        drop.validate(0.99, "Dropout 'd'")
    with pytest.raises(UserError, match="a number"):
        drop.validate(float("nan"), "Dropout 'd'")
    act = get_block("Activation").param("function")
    with pytest.raises(UserError, match="one of 'relu'"):
        act.validate("gelu", "Activation 'a'")
    assert get_block("Dense").param("use_bias").validate(0, "d") is False
    with pytest.raises(UserError, match="true or false"):
        get_block("Dense").param("use_bias").validate("yes", "Dense 'd'")


def test_shape_params():
    shape = get_block("Input").param("shape")
    assert shape.validate((1, 28.0, 28), "i") == [1, 28, 28]
    for bad in ([], [1, 0], [1, -1], "1,28,28", 784, [1.5], [1, 2, 3, 4, 5]):
        with pytest.raises(UserError, match="Input 'i': shape must be"):
            shape.validate(bad, "Input 'i'")
    reshape = get_block("Reshape").param("shape")
    assert reshape.validate([-1, 7, 7], "r") == [-1, 7, 7]
    with pytest.raises(UserError, match="at most one -1"):
        reshape.validate([-1, -1], "Reshape 'r'")


def test_validate_params_rejects_unknown_names_and_fills_defaults():
    dense = get_block("Dense")
    assert dense.validate_params({"units": 3}, "Dense 'd'") == {"units": 3, "use_bias": True, "init": "he"}
    with pytest.raises(UserError, match="Dense 'd': unknown parameter 'unit'; Dense takes: units"):
        dense.validate_params({"unit": 3}, "Dense 'd'")
    with pytest.raises(UserError, match="mapping"):
        dense.validate_params([1], "Dense 'd'")


def test_register_and_get_block():
    with pytest.raises(ValueError, match="already registered"):
        register_block(BLOCKS["Dense"])
    with pytest.raises(UserError) as info:
        get_block("Conv3D")
    assert "Conv3D" in str(info.value) and "Conv2D" in str(info.value) and "Dense" in str(info.value)
    with pytest.raises(ValueError):
        BlockSpec("X", "Nope", (), 1, "", "", "", "", "", "", "")
    with pytest.raises(ValueError):
        ParamSpec("x", "complex", 0)


def test_block_types_by_group():
    assert block_types("Input") == ["Input", "Features"]
    assert set(block_types("Merge")) == {"Add", "Concat"}
    assert set(block_types()) == set(BLOCKS)


@pytest.mark.parametrize("block_type,params,expected", [
    ("Conv2D", {"filters": 6, "kernel_size": 5, "stride": 1, "padding": 2}, "Conv2D 6@5x5 s1 p2"),
    ("Conv2D", {"filters": 16, "kernel_size": 3, "stride": 2, "padding": "same"}, "Conv2D 16@3x3 s2 same"),
    ("Dense", {"units": 120}, "Dense 120"),
    ("Activation", {"function": "relu"}, "ReLU"),
    ("Activation", {"function": "softmax"}, "Softmax"),
    ("Pool2D", {"mode": "max", "size": 2}, "MaxPool 2x2"),
    ("Pool2D", {"mode": "max", "size": 2, "stride": 2}, "MaxPool 2x2"),
    ("Pool2D", {"mode": "avg", "size": 2, "stride": 1}, "AvgPool 2x2 s1"),
    ("Dropout", {"rate": 0.5}, "Dropout 0.5"),
    ("Input", {"shape": [1, 28, 28]}, "Input 1x28x28"),
    ("Concat", {}, "Concat"),
    ("BatchNorm", {}, "BatchNorm"),
    ("Flatten", None, "Flatten"),
    ("Reshape", {"shape": [1, 28, 28]}, "Reshape 1x28x28"),
])
def test_short_label(block_type, params, expected):
    assert short_label(block_type, params) == expected


def test_short_label_never_raises():
    assert short_label("Nope", {}) == "Nope"
    assert short_label("Input", {"shape": 5}) == "Input"
    assert short_label("Activation", {"function": 3}) == "3"
    assert short_label("Conv2D", "garbage") == "Conv2D 8@3x3 s1 p0"


def test_params_table_lists_every_parameter():
    table = params_table_markdown()
    for spec in BLOCKS.values():
        for p in spec.params:
            assert f"| {spec.type} | `{p.name}` |" in table


def test_format_doc_has_the_current_params_table():
    from pathlib import Path
    doc = Path(__file__).resolve().parents[2] / "docs" / "project-format.md"
    assert params_table_markdown() in doc.read_text(encoding="utf-8"), \
        "docs/project-format.md is out of date: paste catalogue.params_table_markdown() into it"


# --------------------------------------------------------------------------------------------------
# searching, names people read, parameters that apply
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query,expected", [
    ("relu", ["Activation"]), ("ReLU", ["Activation"]), ("leaky_relu", ["Activation"]),
    ("softmax", ["Activation"]), ("sigmoid", ["Activation"]), ("tanh", ["Activation"]),
    ("max pool", ["Pool2D"]), ("max-pooling", ["Pool2D"]), ("average pool", ["Pool2D"]), ("maxpool", ["Pool2D"]),
    ("fully connected", ["Dense"]), ("convolution", ["Conv2D"]), ("dropout", ["Dropout"]),
    ("卷积", ["Conv2D"]), ("池化", ["Pool2D"]), ("最大池化", ["Pool2D"]), ("全连接", ["Dense"]),
    ("激活", ["Activation"]), ("residual", ["Add"]), ("norm", ["BatchNorm"]),
])
def test_search_finds_blocks_by_what_they_do(query, expected):
    from nnstudio.graph.catalogue import matches_search
    assert [t for t, spec in BLOCKS.items() if matches_search(spec, query)] == expected


def test_empty_search_matches_every_block():
    from nnstudio.graph.catalogue import matches_search
    assert all(matches_search(spec, "  ") for spec in BLOCKS.values())


def test_losses_and_activations_have_names_people_read():
    from nnstudio.graph.catalogue import (ACTIVATION_DISPLAY_NAMES, LOSS_DISPLAY_NAMES, activation_name,
                                          loss_name)
    from nnstudio.graph.shapes import LOSS_NAMES
    assert set(LOSS_DISPLAY_NAMES) == set(LOSS_NAMES)
    assert set(ACTIVATION_DISPLAY_NAMES) == set(ACTIVATION_INFO)
    assert loss_name("cross_entropy") == "cross-entropy"
    assert loss_name("binary_cross_entropy") == "binary cross-entropy"
    assert CJK.search(loss_name("cross_entropy", "zh"))
    assert activation_name("relu") == "ReLU" and activation_name("leaky_relu") == "Leaky ReLU"
    assert loss_name("bogus") == "bogus" and activation_name(None) == "None"
    for en, zh in (*LOSS_DISPLAY_NAMES.values(), *ACTIVATION_DISPLAY_NAMES.values()):
        assert "_" not in en and "_" not in zh


def test_choices_have_titles_in_both_languages():
    for spec in BLOCKS.values():
        for p in spec.params:
            if p.kind != "choice":
                continue
            assert [c for c, _, _ in p.choice_titles] == list(p.choices), f"{spec.type}.{p.name}"
            for choice in p.choices:
                assert "_" not in p.choice_title(choice) and p.choice_title(choice, "zh").strip()
    function = BLOCKS["Activation"].param("function")
    assert function.choice_title("leaky_relu") == "Leaky ReLU"
    assert BLOCKS["Pool2D"].param("mode").choice_title("avg", "zh") == "平均池化"


def test_alpha_applies_only_to_leaky_relu():
    spec = BLOCKS["Activation"]
    names = lambda params: [p.name for p in spec.applicable_params(params)]  # noqa: E731
    assert names({"function": "softmax", "alpha": 0.01}) == ["function"]
    assert names({"function": "leaky_relu"}) == ["function", "alpha"]
    assert names({}) == ["function"]  # the default function, relu, has no slope
    for block in ("Conv2D", "Pool2D", "Dense"):  # every one of their parameters always means something
        assert BLOCKS[block].applicable_params({}) == BLOCKS[block].params


def test_applies_when_must_name_a_parameter_of_the_block():
    with pytest.raises(ValueError, match="applies when 'nope'"):
        BlockSpec("Odd", "Layers", (ParamSpec("a", "int", 1, applies_when=(("nope", (1,)),)),), 1,
                  "Odd", "奇", "d", "描述", "y", "h", "帮助")


def test_a_search_that_names_an_activation_function():
    from nnstudio.graph.catalogue import activation_for_search
    found = {q: activation_for_search(q) for q in ("softmax", "Soft max", "relu", "ReLU", "leaky_relu", "leaky relu",
                                                    "双曲正切", "sigmoid", "sig", "max pool", "", "activation")}
    assert found == {"softmax": "softmax", "Soft max": "softmax", "relu": "relu", "ReLU": "relu",
                     "leaky_relu": "leaky_relu", "leaky relu": "leaky_relu", "双曲正切": "tanh", "sigmoid": "sigmoid",
                     "sig": None, "max pool": None, "": None, "activation": None}  # sig: sigmoid or sign
