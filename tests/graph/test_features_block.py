"""The Features block in the catalogue: its parameter kind (a non-empty subset of the choices, kept in their
order), its face on a node, and the words the palette finds it by."""
from __future__ import annotations

import pytest

from nnstudio.errors import UserError
from nnstudio.graph.catalogue import BLOCKS, get_block, matches_search, short_label


def test_features_take_any_non_empty_subset_in_catalogue_order():
    spec = get_block("Features")
    assert spec.group == "Input" and spec.n_inputs == 1 and spec.defaults() == {"features": ["x1", "x2"]}
    param = spec.param("features")
    assert param.validate(("sin_x2", "x1"), "f") == ["x1", "sin_x2"]
    for bad in ([], ["x1", "x1"], ["x3"], "x1", None, [1]):
        with pytest.raises(UserError, match=r"^Features 'f': features must be a non-empty list of x1, x2, x1_sq"):
            param.validate(bad, "Features 'f'")


def test_the_node_face_names_the_features_as_people_write_them():
    assert short_label("Features", {"features": ["x2_sq", "x1_sq"]}) == "x1², x2²"
    assert short_label("Features", {"features": ["x1x2", "sin_x1"]}) == "x1·x2, sin(x1)"
    assert short_label("Features", None) == "x1, x2"


@pytest.mark.parametrize("query", ["features", "feature engineering", "feature cross", "playground", "sin(x1)",
                                   "x1²", "特征工程", "平方", "正弦"])
def test_the_palette_finds_it_by_what_it_does(query):
    assert [t for t, spec in BLOCKS.items() if matches_search(spec, query)] == ["Features"]
