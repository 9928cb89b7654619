"""copy_transposed: the tiled transpose the convolution uses for big batches gives exactly ``src.T``."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.layers import layout
from nnstudio.engine.layers.layout import copy_transposed


@pytest.mark.parametrize("shape", [(70001, 17), (17, 70001), (1100, 1030), (3, 5), (1, 1 << 21)])
def test_equals_the_plain_transpose_for_tall_wide_ragged_and_small_matrices(shape):
    rng = np.random.default_rng(0)
    src = rng.random(shape, dtype=np.float32)
    dst = np.empty(shape[::-1], dtype=np.float32)
    assert copy_transposed(src, dst) is dst
    np.testing.assert_array_equal(dst, src.T)


def test_strided_source_and_destination_views():
    rng = np.random.default_rng(1)
    base = rng.random((2100, 1200))
    src = base[::2, 100:1124]  # (1050, 1024), rows two apart
    out = np.zeros((1100, 1050))
    dst = out[10:1034]
    assert src.size >= layout._SMALL
    copy_transposed(src, dst)
    np.testing.assert_array_equal(dst, src.T)
    assert not out[:10].any() and not out[1034:].any()  # nothing written outside the view
