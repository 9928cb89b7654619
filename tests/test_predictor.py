"""The Qt-free predictor: the shipped digit model, project models, the batch-1 path and captcha reading."""
from __future__ import annotations


import numpy as np
import pytest

from nnstudio.data.drawing import preprocess_drawing
from nnstudio.data.registry import get_dataset
from nnstudio.engine.model import Model
from nnstudio.errors import UserError
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, load_project, save_project, weights_path_for
from nnstudio.predictor import (CaptchaReader, DigitPredictor, clone_model, default_model_paths, default_predictor,
                                is_captcha_model, is_digit_model, load_digit_predictor, load_project_model)


def chain(*blocks: tuple[str, dict]) -> Graph:
    graph = Graph()
    previous = None
    for block, params in blocks:
        node = graph.add_node(block, params)
        if previous is not None:
            graph.connect(previous, node.id)
        previous = node.id
    return graph


def mlp(final: str = "softmax") -> Model:
    graph = chain(("Input", {"shape": [784]}), ("Dense", {"units": 16}), ("Activation", {"function": "relu"}),
                  ("Dense", {"units": 10}), ("Activation", {"function": final}))
    return compile_graph(graph, "numpy", seed=3)


@pytest.fixture(scope="module")
def shipped() -> DigitPredictor:
    return default_predictor()


@pytest.fixture(scope="module")
def mnist():
    return get_dataset("mnist", variant="10k")


def test_shipped_model_files_form_a_project_with_weights() -> None:
    project_path, weights_path = default_model_paths()
    project = load_project(project_path)
    assert project.training["dataset"] == "mnist"
    model = compile_graph(project.graph, "numpy")
    model.load_npz(weights_path)  # strict: every key present with the right shape
    assert model.input_shape == (1, 28, 28) and model.output_shape == (10,)
    assert model.output_activation == "softmax"


def test_shipped_model_reaches_98_percent_on_the_2000_test_digits(shipped: DigitPredictor, mnist) -> None:
    assert mnist.n_test == 2000
    probabilities = shipped.model.predict(np.asarray(mnist.x_test), batch_size=500)
    accuracy = float((probabilities.argmax(axis=1) == np.asarray(mnist.y_test)).mean())
    assert accuracy >= 0.98, accuracy


def test_batch_of_one_matches_batched_predict(shipped: DigitPredictor, mnist) -> None:
    x = np.asarray(mnist.x_test[:5])
    batched = shipped.model.predict(x)
    for i in range(5):
        single = shipped.predict_image(x[i, 0])
        np.testing.assert_allclose(single.probabilities, batched[i], rtol=1e-5, atol=1e-6)
        assert abs(single.probabilities.sum() - 1.0) < 1e-5
        assert single.top == int(batched[i].argmax())
        assert single.top_name == str(single.top)
        assert single.confidence == pytest.approx(batched[i].max(), rel=1e-5)


def test_batch_of_one_matches_the_batched_forward(shipped: DigitPredictor, mnist) -> None:
    # Speed is measured by tools/bench_canvas.py (never asserted in a test: a loaded machine would fail it);
    # what a test can hold is that the one-sample path gives what the model gives for the same digits.
    images = np.asarray(mnist.x_test[:8, 0])
    batched = shipped.model.predict(images[:, None].astype(np.float32))
    for image, row in zip(images, batched):
        np.testing.assert_allclose(shipped.predict_image(image).probabilities, row, rtol=1e-5, atol=1e-6)


def test_predict_drawing_uses_the_shared_preprocessing_in_both_polarities(shipped: DigitPredictor, mnist) -> None:
    digit = np.asarray(mnist.x_test[3, 0])
    big = np.kron(digit, np.ones((10, 10), np.float32))  # a 280 x 280 "canvas" of a real digit
    for canvas in (big, 1.0 - big, (big * 255).astype(np.uint8)):
        image28, prediction = shipped.predict_drawing(canvas)
        np.testing.assert_array_equal(image28, preprocess_drawing(canvas))
        assert prediction.top == int(mnist.y_test[3])


@pytest.mark.parametrize("value", [0.0, 1.0, 0.5])
def test_an_empty_drawing_predicts_nothing(shipped: DigitPredictor, value: float) -> None:
    assert shipped.predict_drawing(np.full((280, 280), value, np.float32)) is None


def test_the_copy_is_independent_until_weights_are_updated() -> None:
    model = mlp()
    predictor = DigitPredictor(model)
    image = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    before = predictor.predict_image(image).probabilities
    for _, param, _ in model.parameters():
        param *= 0.0  # the original changes (as during training) ...
    np.testing.assert_array_equal(predictor.predict_image(image).probabilities, before)  # ... the copy does not
    predictor.update_weights(model)
    np.testing.assert_allclose(predictor.predict_image(image).probabilities, np.full(10, 0.1), atol=1e-6)
    predictor.update_weights(clone_model(mlp()).state_dict())  # a state dict works too
    np.testing.assert_allclose(predictor.predict_image(image).probabilities, before, rtol=1e-5)


def test_scores_without_softmax_become_probabilities() -> None:
    predictor = DigitPredictor(mlp(final="linear"))
    p = predictor.predict_image(np.ones((28, 28), np.float32)).probabilities
    assert p.shape == (10,) and np.all(p > 0) and abs(p.sum() - 1.0) < 1e-9


def test_activations_of_every_node_without_the_batch_axis(shipped: DigitPredictor, mnist) -> None:
    image = np.asarray(mnist.x_test[0, 0])
    acts = shipped.activations(image)
    assert set(acts) == set(shipped.model.order)
    for nid, value in acts.items():
        assert isinstance(value, np.ndarray) and value.shape == shipped.model.shapes[nid]
    np.testing.assert_allclose(acts[shipped.model.output_id], shipped.predict_image(image).probabilities,
                               rtol=1e-5, atol=1e-7)
    assert shipped.model.activations == {}  # nothing kept alive between calls


def test_networks_that_cannot_read_the_canvas_are_refused() -> None:
    wrong_input = compile_graph(chain(("Input", {"shape": [2]}), ("Dense", {"units": 10})), "numpy")
    with pytest.raises(UserError, match=r"28x28.*\[2\]"):
        DigitPredictor(wrong_input, name="toy")
    single_output = compile_graph(chain(("Input", {"shape": [784]}), ("Dense", {"units": 1})), "numpy")
    with pytest.raises(UserError, match="classifier"):
        DigitPredictor(single_output)
    assert not is_digit_model(wrong_input) and is_digit_model(mlp()) and not is_digit_model("model")
    with pytest.raises(UserError, match="class names"):
        DigitPredictor(mlp(), class_names=["a", "b"])


def test_wrong_sample_size_is_a_user_error(shipped: DigitPredictor) -> None:
    with pytest.raises(UserError, match=r"\(1, 28, 28\)"):
        shipped.probabilities(np.zeros((20, 20), np.float32))


def test_a_saved_project_and_its_weights_load(tmp_path) -> None:
    model = mlp()
    graph = chain(("Input", {"shape": [784]}), ("Dense", {"units": 16}), ("Activation", {"function": "relu"}),
                  ("Dense", {"units": 10}), ("Activation", {"function": "softmax"}))
    path = tmp_path / "mine.nnproj"
    save_project(Project(name="mine", graph=graph), path)
    with pytest.raises(UserError, match="mine.weights.npz"):
        load_digit_predictor(path)
    model.save_npz(weights_path_for(path))
    predictor = load_digit_predictor(path)
    image = np.random.default_rng(1).random((28, 28), dtype=np.float32)
    np.testing.assert_allclose(predictor.predict_image(image).probabilities,
                               DigitPredictor(model).predict_image(image).probabilities, rtol=1e-5)
    assert predictor.name == "mine.nnproj"
    assert load_project_model(path).param_count() == model.param_count()


def captcha_model(out: int = 10) -> Model:
    graph = chain(("Input", {"shape": [1, 40, 100]}), ("Conv2D", {"filters": 2, "kernel_size": 3}),
                  ("Pool2D", {"size": 4}), ("Dense", {"units": 4 * out}), ("Reshape", {"shape": [4, out]}),
                  ("Activation", {"function": "softmax"}))
    return compile_graph(graph, "numpy", seed=2)


def test_captcha_reader_reads_four_digits_with_confidences() -> None:
    model = captcha_model()
    assert is_captcha_model(model) and not is_captcha_model(mlp())
    reader = CaptchaReader(model)
    assert reader.image_shape == (40, 100)
    image = (np.random.default_rng(4).random((40, 100)) * 255).astype(np.uint8)
    reading = reader.read(image)
    expected = model.predict((image.astype(np.float32) / 255.0)[None, None])[0]
    assert reading.digits == [int(d) for d in expected.argmax(axis=1)]
    np.testing.assert_allclose(reading.confidences, expected.max(axis=1), rtol=1e-5)
    assert reading.text == "".join(map(str, reading.digits))
    with pytest.raises(UserError, match=r"\(4, 10\)"):
        CaptchaReader(captcha_model(out=5))
    with pytest.raises(UserError, match="gray images"):
        CaptchaReader(mlp())
