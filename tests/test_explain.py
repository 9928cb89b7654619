"""Saliency against finite differences, Grad-CAM's shape and what it highlights on drawn digits."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nnstudio.data.drawing import preprocess_drawing
from nnstudio.errors import UserError
from nnstudio.explain import gradcam, last_conv, overlay, saliency
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.predictor import _default_model


def small_net(conv: bool = True) -> Graph:
    g = Graph()
    chain = [("input", "Input", {"shape": [2, 6, 6]})]
    if conv:
        chain += [("conv", "Conv2D", {"filters": 3, "kernel_size": 3, "padding": 1}),
                  ("act", "Activation", {"function": "tanh"}),
                  ("pool", "Pool2D", {"mode": "avg", "size": 2})]
    chain += [("flat", "Flatten", {}), ("dense", "Dense", {"units": 4}),
              ("softmax", "Activation", {"function": "softmax"})]
    for i, (nid, kind, params) in enumerate(chain):
        g.add_node(kind, params, position=(i * 100.0, 0.0), node_id=nid)
        if i:
            g.connect(chain[i - 1][0], nid)
    return g


def test_saliency_matches_finite_differences_of_the_class_score() -> None:
    model = compile_graph(small_net(), "numpy", seed=3, dtype=np.float64)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 6))
    result = saliency(model, x)
    assert result.raw.shape == (2, 6, 6) and result.maps.shape == (2, 6, 6)
    eps = 1e-6
    for i in range(2):
        k = int(result.classes[i])
        assert k == int(np.argmax(model.predict(x[i:i + 1])[0]))
        numeric = np.zeros((2, 6, 6))
        for idx in np.ndindex(2, 6, 6):
            up, down = x[i:i + 1].copy(), x[i:i + 1].copy()
            up[(0,) + idx] += eps
            down[(0,) + idx] -= eps
            numeric[idx] = (model.forward(up, logits=True)[0, k] - model.forward(down, logits=True)[0, k]) / (2 * eps)
        expected = np.abs(numeric).max(axis=0)  # largest over the channels
        np.testing.assert_allclose(result.raw[i], expected, rtol=1e-6, atol=1e-9)
        assert result.maps[i].max() == pytest.approx(1.0)


def test_saliency_of_a_chosen_class_and_of_a_flat_input() -> None:
    model = compile_graph(small_net(conv=False), "numpy", seed=1, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((3, 2, 6, 6))
    result = saliency(model, x, target=2)
    assert result.classes.tolist() == [2, 2, 2]
    # Without a convolution the score is linear in x: the map is |column 2 of W| wherever the input is
    w = model.layer("dense").params["W"][:, 2].reshape(2, 6, 6)
    np.testing.assert_allclose(result.raw[0], np.abs(w).max(axis=0), rtol=1e-10)
    with pytest.raises(UserError, match="Conv2D"):
        gradcam(model, x)


def test_gradcam_shape_and_range_on_the_input_grid() -> None:
    model = compile_graph(small_net(), "numpy", seed=2, dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((4, 2, 6, 6))
    result = gradcam(model, x)
    assert last_conv(model) == "conv"
    assert result.maps.shape == (4, 6, 6)
    assert result.maps.min() >= 0.0 and result.maps.max() <= 1.0
    picture = overlay(x[0], result.maps[0])
    assert picture.shape == (6, 6, 3) and picture.dtype == np.uint8


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    out, padded = mask.copy(), np.pad(mask, r)
    h, w = mask.shape
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= padded[r + dy:r + dy + h, r + dx:r + dx + w]
    return out


_t = np.linspace(0.0, 2.0 * np.pi, 90)
_a, _b = np.linspace(-0.75 * np.pi, 0.5 * np.pi, 45), np.linspace(-0.5 * np.pi, 0.8 * np.pi, 50)
DRAWN = {  # strokes on the 280 x 280 canvas, as a mouse would draw them
    0: [list(zip(140 + 58 * np.sin(_t), 140 - 88 * np.cos(_t)))],
    1: [[(140.0, y) for y in np.linspace(45, 235, 48)]],
    3: [list(zip(140 + 50 * np.cos(_a), 95 + 42 * np.sin(_a))) +
        list(zip(138 + 60 * np.cos(_b), 185 + 48 * np.sin(_b)))],
    4: [[(180, 40), (80, 170), (210, 170)], [(170, 90), (170, 250)]],
    7: [[(70, 60), (210, 60), (120, 240)]],
}


def draw(strokes: list) -> np.ndarray:
    image = Image.new("L", (280, 280), 0)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line([(float(x), float(y)) for x, y in stroke], fill=255, width=20, joint="curve")
    return preprocess_drawing(np.asarray(image))


def test_gradcam_highlights_the_ink_of_drawn_digits_with_the_shipped_model() -> None:
    model = _default_model()
    x = np.stack([draw(s) for s in DRAWN.values()])[:, None]
    result = gradcam(model, x)
    assert result.classes.tolist() == list(DRAWN)  # it reads them right
    ratios = []
    for i in range(len(x)):
        ink = x[i, 0] > 0.5
        background = ~_dilate(x[i, 0] > 0.05, 2)  # paper at least 3 pixels from any ink
        on_ink, off_ink = result.maps[i][ink].mean(), result.maps[i][background].mean()
        assert on_ink > off_ink, list(DRAWN)[i]
        ratios.append(on_ink / off_ink)
    assert np.mean(ratios) > 1.5
    # Saliency too
    sal = saliency(model, x)
    for i in range(len(x)):
        assert sal.maps[i][x[i, 0] > 0.5].mean() > 1.5 * sal.maps[i][~_dilate(x[i, 0] > 0.05, 2)].mean()


def test_cli_explain_writes_a_picture_per_input_and_json_maps_on_the_input_grid(tmp_path, capsys) -> None:
    import json

    from nnstudio.cli import main
    from nnstudio.predictor import default_model_paths

    project, weights = default_model_paths()
    batch = np.stack([draw(DRAWN[7]), draw(DRAWN[3])])[:, None]
    np.save(tmp_path / "two.npy", batch)
    Image.fromarray((draw(DRAWN[4]) * 255).astype(np.uint8)).save(tmp_path / "four.png")
    out = tmp_path / "maps"
    assert main(["explain", str(project), "--weights", str(weights), str(tmp_path / "two.npy"),
                 str(tmp_path / "four.png"), "-o", str(out), "--method", "gradcam", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in records] == [f"{tmp_path / 'two.npy'}[0]", f"{tmp_path / 'two.npy'}[1]",
                                             str(tmp_path / "four.png")]
    assert [r["class"] for r in records] == [7, 3, 4]
    for r in records:
        grid = np.asarray(r["map"])
        assert grid.shape == (28, 28) and grid.min() >= 0.0 and grid.max() == pytest.approx(1.0)
        with Image.open(r["png"]) as picture:
            assert picture.width >= 2 * 224
    assert sorted(p.name for p in out.iterdir()) == ["four.png", "two-0.png", "two-1.png"]
    # The JSON map is the one the library computes for the same input
    direct = gradcam(_default_model(), batch[:1]).maps[0]
    np.testing.assert_allclose(np.asarray(records[0]["map"]), direct, atol=1e-6)


def test_cli_explain_refusals_are_one_line(tmp_path, capsys) -> None:
    from nnstudio.cli import main
    from nnstudio.graph.project_file import Project, save_project
    from nnstudio.predictor import default_model_paths

    project, weights = default_model_paths()
    np.save(tmp_path / "x.npy", np.zeros((1, 28, 28), np.float32))
    (tmp_path / "file").write_text("")
    assert main(["explain", str(project), "--weights", str(weights), str(tmp_path / "x.npy"),
                 "-o", str(tmp_path / "file")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected a folder" in err
    mlp = tmp_path / "mlp.nnproj"
    save_project(Project(name="mlp", graph=small_net(conv=False)), mlp)
    compile_graph(small_net(conv=False), "numpy").save_npz(tmp_path / "mlp.npz")
    np.save(tmp_path / "y.npy", np.zeros((2, 6, 6), np.float32))
    assert main(["explain", str(mlp), "--weights", str(tmp_path / "mlp.npz"), str(tmp_path / "y.npy"),
                 "-o", str(tmp_path / "out"), "--method", "gradcam"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Conv2D" in err


def test_the_feature_map_probe_explains_its_sample_without_touching_the_training_gradients() -> None:
    from nnstudio.training.views import probe

    model = compile_graph(small_net(), "numpy", seed=4)
    model.layer("dense").grads["W"][...] = 7.0  # what the trainer left there
    sample = np.random.default_rng(5).standard_normal((2, 6, 6)).astype(np.float32)
    view = probe(model, sample, step=3)
    assert view.why_method == "gradcam" and view.why.shape == (6, 6)
    assert (model.layer("dense").grads["W"] == 7.0).all()  # computed on a copy
    np.testing.assert_allclose(view.why, gradcam(model, sample[None]).maps[0], atol=1e-6)
    flat = probe(compile_graph(small_net(conv=False), "numpy", seed=4), sample, step=3)
    assert flat.why_method == "saliency" and flat.why.shape == (6, 6)


def test_cli_explain_names_an_output_folder_it_cannot_create_or_write(tmp_path, capsys, monkeypatch) -> None:
    from nnstudio import userdirs
    from nnstudio.cli import main
    from nnstudio.predictor import default_model_paths

    project, weights = default_model_paths()
    np.save(tmp_path / "seven.npy", draw(DRAWN[7])[None])
    (tmp_path / "a-file").write_text("not a folder")
    out = tmp_path / "a-file" / "maps"  # its parent is a file: the folder cannot be made
    assert main(["explain", str(project), "--weights", str(weights), str(tmp_path / "seven.npy"),
                 "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: -o '{out}': cannot create the folder for the pictures ('{tmp_path / 'a-file'}' is a file, "
                   "not a folder)"]  # the file in the way, named

    def refuse(path, data):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(userdirs, "atomic_write_bytes", refuse)
    assert main(["explain", str(project), "--weights", str(weights), str(tmp_path / "seven.npy"),
                 "-o", str(tmp_path / "maps")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: cannot write the picture '{tmp_path / 'maps' / 'seven.png'}' (Permission denied)"]
