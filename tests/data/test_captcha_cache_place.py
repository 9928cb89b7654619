"""The captcha cache's place: a folder, a pipe or a file in the way gives one line naming the cache before any
image is rendered, and a cache that cannot be saved (a full disk) does not lose the images of the run."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("captcha")

from nnstudio import userdirs  # noqa: E402
from nnstudio.data import captcha_digits  # noqa: E402
from nnstudio.data.captcha_digits import cache_path, load_captcha  # noqa: E402
from nnstudio.errors import UserError  # noqa: E402

SIZES = dict(n_train=4, n_test=2, seed=3, height=30, width=80)


@pytest.mark.parametrize("in_the_way", ["folder", "pipe", "file instead of the folder"])
def test_something_in_the_caches_place_is_named_before_rendering(in_the_way, monkeypatch):
    path = cache_path(3, 4, 2, (30, 80))
    if in_the_way == "folder":
        path.mkdir(parents=True)
    elif in_the_way == "pipe":
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
    else:
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        path.parent.write_text("not a folder")
    made = []
    real = captcha_digits.generate_captchas
    monkeypatch.setattr(captcha_digits, "generate_captchas", lambda *a, **k: made.append(1) or real(*a, **k))
    with pytest.raises(UserError, match="captcha cache '.*' cannot be written") as info:
        load_captcha(**SIZES)
    assert "\n" not in str(info.value) and made == []


def test_a_cache_that_cannot_be_saved_still_gives_the_images(monkeypatch):
    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(userdirs, "atomic_write_bytes", full_disk)
    data = load_captcha(**SIZES)
    assert data.x_train.shape == (4, 1, 30, 80) and not cache_path(3, 4, 2, (30, 80)).exists()
