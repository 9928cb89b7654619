"""The engine's device code runs here, on a stand-in for CuPy (tests/fake_cupy.py), and agrees with NumPy.

Without a CUDA GPU every branch the engine takes for a non-NumPy array module (generic pooling and
convolution, the loss's device reductions, gradient norms gathered in one transfer, dropout on the device's
generator, host <-> device crossings) would otherwise never run in CI.  The stand-in does NumPy's arithmetic
under CuPy's rules (no implicit host conversion, no mixing of host and device arrays, a separate array type),
so a crossing that real CuPy refuses fails here too, and the numbers can be compared with a NumPy run.
It cannot show that CuPy itself computes correctly on a GPU: tools/gpu_check.sh does that on a CUDA machine.
"""
from __future__ import annotations

import importlib.util
import io
import math
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from nnstudio import cli
from nnstudio.bench import MODELS, engine_setup, make_data
from nnstudio.engine import backend
from nnstudio.engine.backend import array_module, get_backend, to_device, to_host
from nnstudio.engine.losses import get_loss
from nnstudio.engine.optimizers import make_optimizer
from nnstudio.explain import gradcam, saliency
from nnstudio.resources_path import resource
from tests.conftest import fake_cupy_module

fake_cupy = fake_cupy_module()

EXAMPLES = sorted(p.stem for p in Path(resource("examples")).glob("*.json"))


@pytest.fixture
def cp():
    # Leaving it checks that no NumPy function was handed a device array to pass on to CuPy (CuPy implements
    # only some of them that way): everything the engine did on device arrays went through the array module.
    with fake_cupy.installed() as module:
        yield module


# The comparisons with NumPy below run on the stand-in everywhere, and on real CuPy where a CUDA device is usable
# (tools/gpu_check.sh), where the GPU's own order of additions makes the results differ a little more.
LOOSER = {"standin": 1.0, "cupy": 10.0}


@pytest.fixture(params=["standin", pytest.param("cupy", marks=pytest.mark.gpu)])
def device(request):
    """(array module, tolerance factor): the stand-in, or CuPy on a GPU (skipped without one)."""
    if request.param == "cupy":
        if not backend.cupy_available():
            pytest.skip("CuPy with a usable CUDA device is not available")
        yield get_backend("cupy").xp, LOOSER["cupy"]
        return
    with fake_cupy.installed() as module:
        yield module, LOOSER["standin"]


# -- the stand-in itself keeps CuPy's rules (else the tests below would prove nothing) -------------------------
def test_the_standin_refuses_what_cupy_refuses(cp):
    host = np.arange(6, dtype=np.float32)
    dev = cp.asarray(host)
    assert not isinstance(dev, np.ndarray) and not hasattr(dev, "ctypes")
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(dev)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.array([dev[0], dev[1]])
    for mix in (lambda: dev + host, lambda: host + dev, lambda: cp.add(dev, host), lambda: cp.exp([1.0, 2.0])):
        with pytest.raises(TypeError):
            mix()
    with pytest.raises((TypeError, ValueError)):  # CuPy: ValueError for a host array of several values
        dev[:] = host
    dev[0] = np.float32(5)  # a host scalar is fine
    assert float(dev[0]) == 5.0
    with pytest.raises(TypeError):
        cp.asarray(host, ndmin=2)  # CuPy's asarray has no such keyword
    with pytest.raises(AttributeError):
        dev.flags.writeable  # noqa: B018 - CuPy's flags have no such field
    fake_cupy.DISPATCHED.clear()  # the refusals above went through NumPy's dispatch on purpose


def test_the_standin_shares_memory_like_numpy_and_copies_at_the_crossings(cp):
    host = np.arange(6, dtype=np.float32)
    dev = cp.asarray(host)
    host[0] = 100  # the device copy is its own
    assert float(dev[0]) == 0.0
    dev[0] = 0
    view = dev.reshape(2, 3)
    assert view.base is dev and view[1].base is dev  # a view's base is the array that owns the memory
    view[1] = 7  # a view writes through
    assert cp.multiply(dev, 2, out=dev) is dev
    back = dev.get()
    assert type(back) is np.ndarray and back.tolist() == [0, 2, 4, 14, 14, 14]
    total = dev.sum()
    assert type(total) is cp.ndarray and total.shape == () and float(total) == 48.0
    assert array_module(dev) is cp and array_module(host) is np
    assert type(to_host(dev)) is np.ndarray
    chosen = get_backend("cupy")
    assert chosen.is_gpu and chosen.xp is cp and chosen.human_name == "CuPy · Stand-in GPU"


def test_without_the_standin_there_is_no_gpu_again():
    with fake_cupy.installed():
        assert backend.cupy_available()
    assert get_backend("numpy").xp is np
    if importlib.util.find_spec("cupy") is None:  # a real CuPy may be installed (a GPU machine)
        assert not backend.cupy_available()


# -- the engine on the device -----------------------------------------------------------------------------
def _three_steps(name: str, xp):
    setup = engine_setup(name, xp)
    model = setup.model
    x_host, y_host = make_data(model, 8)
    x, y = to_device(x_host, xp, np.float32), to_device(y_host, xp)
    loss = get_loss("cross_entropy")
    opt = make_optimizer(setup.optimizer, setup.lr, momentum=0.9)
    losses = [model.train_step(x, y, loss, opt)[0] for _ in range(3)]
    return model, x_host, losses, opt


@pytest.mark.parametrize("name", MODELS)
def test_each_benchmark_network_trains_on_the_device_as_on_numpy(device, name):
    cp, looser = device
    host_model, x, host_losses, _ = _three_steps(name, np)
    model, _x, losses, opt = _three_steps(name, cp)
    assert all(type(v) is float for v in losses)
    np.testing.assert_allclose(losses, host_losses, rtol=1e-5 * looser)
    # A bias just before a BatchNorm has a gradient of rounding noise (the normalisation takes the mean away);
    # Adam turns that noise into whole steps, so those biases differ by the order of additions alone (and the
    # running means, which see the biases, by a tenth of that).
    noise = {f"{nid}/b" for nid in model.order for node in model.nodes.values()
             if node.inputs == [nid] and type(node.layer).__name__ == "BatchNorm"}
    host_state = host_model.state_dict()
    for key, value in model.state_dict().items():
        assert type(value) is np.ndarray
        if key not in noise:
            atol = 1e-3 if noise and "/running_" in key else 1e-6 * looser
            np.testing.assert_allclose(value, host_state[key], rtol=1e-4 * looser, atol=atol, err_msg=key)
    assert (name == "captcha-cnn") == bool(noise)
    params = model.parameters()
    assert all(type(p) is cp.ndarray for _k, p, _g in params)
    # Every parameter is a view of one packed device array (a view's base is the array that owns the memory,
    # as in CuPy), so the optimizer updated them all at once, as it does on a GPU.
    assert params.packed is not None and type(params.packed.params) is cp.ndarray
    assert opt._packing is not None and opt._packing[0] is params.packed.params  # noqa: SLF001
    norms, host_norms = model.grad_norms(), host_model.grad_norms()
    assert norms.keys() == host_norms.keys()
    for key in norms:
        assert norms[key] == pytest.approx(host_norms[key], rel=1e-4 * looser)
    predicted = model.predict(x)
    assert type(predicted) is np.ndarray
    # (evaluation reads the running means, which see those biases)
    np.testing.assert_allclose(predicted, host_model.predict(x), rtol=1e-4 * looser,
                               atol=1e-3 if noise else 1e-6 * looser)
    # to the host and back onto the device: the same outputs, and it trains on (Model.to keeps the weights; an
    # optimizer's state stays where it was, so a moved model gets a new optimizer)
    np.testing.assert_allclose(model.to(np).predict(x), predicted, rtol=1e-6 * looser, atol=1e-7 * looser)
    np.testing.assert_allclose(model.to(cp).predict(x), predicted, rtol=1e-6 * looser, atol=1e-7 * looser)
    assert type(model.parameters().packed.params) is cp.ndarray
    xd, yd = to_device(x, cp, np.float32), to_device(make_data(model, 8)[1], cp)
    assert math.isfinite(model.train_step(xd, yd, get_loss("cross_entropy"), make_optimizer("adam", 1e-3))[0])


def test_explanations_on_the_device_match_numpy(device):
    cp, looser = device
    host_model, x, _, _ = _three_steps("mnist-cnn", np)
    model, _x, _, _ = _three_steps("mnist-cnn", cp)
    for method in (saliency, gradcam):
        on_device, on_host = method(model, x[:2]), method(host_model, x[:2])
        assert type(on_device.maps) is np.ndarray and type(on_device.raw) is np.ndarray
        np.testing.assert_array_equal(on_device.classes, on_host.classes)
        np.testing.assert_allclose(on_device.raw, on_host.raw, rtol=1e-3 * looser, atol=1e-6 * looser)


# -- every example through the command line ---------------------------------------------------------------
def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_trains_evaluates_predicts_and_profiles_on_the_device(device, example, tmp_path,
                                                                            monkeypatch):
    _cp, looser = device
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "data"))
    document = json.loads(Path(resource("examples", f"{example}.json")).read_text(encoding="utf-8"))
    options = document["training"].get("dataset_options", {})
    if "n_train" in options:  # a generated set (captchas): make 300 + 100, not the example's thousands
        options.update(n_train=300, n_test=100)
    project = tmp_path / f"{example}.json"
    project.write_text(json.dumps(document), encoding="utf-8")
    shape = next(node["params"]["shape"] for node in document["graph"]["nodes"] if node["type"] == "Input")
    inputs = tmp_path / "inputs.npy"
    np.save(inputs, np.random.default_rng(0).random((3, *shape), dtype=np.float32))
    final = {}
    for name in ("numpy", "cupy"):
        weights = tmp_path / f"{name}.npz"
        code, out, err = _cli(["train", str(project), "--backend", name, "--epochs", "1", "--max-samples", "300",
                               "--weights-out", str(weights), "--no-history", "--json"])
        final[name] = json.loads(out.splitlines()[-1])
        if final[name]["reason"] == "nan":  # the exploding-gradients lesson diverges on purpose, on both
            assert code == 1
            continue
        assert code == 0, err
        code, out, err = _cli(["evaluate", str(project), "--weights", str(weights), "--backend", name,
                               "--max-samples", "200", "--json"])
        assert code == 0, err
        final[name]["evaluated"] = json.loads(out)
        code, out, err = _cli(["predict", str(project), "--weights", str(weights), "--backend", name, "--raw",
                               "--json", str(inputs)])
        assert code == 0, err
        final[name]["outputs"] = [json.loads(line)["output"] for line in out.splitlines()]
        if len(shape) == 3 and example != "captcha-cnn":  # an image classifier with one score per class
            code, out, err = _cli(["explain", str(project), "--weights", str(weights), "--backend", name,
                                   "-o", str(tmp_path / f"explained-{name}"), str(inputs)])
            assert code == 0, err
            assert len(list((tmp_path / f"explained-{name}").glob("*.png"))) == 3
    assert final["cupy"]["reason"] == final["numpy"]["reason"]
    if final["numpy"]["reason"] != "nan":
        assert final["cupy"]["test_loss"] == pytest.approx(final["numpy"]["test_loss"], rel=1e-4 * looser)
        assert final["cupy"]["test_acc"] == pytest.approx(final["numpy"]["test_acc"], abs=0.01 * (looser > 1))
        on_device, host = final["cupy"]["evaluated"], final["numpy"]["evaluated"]
        assert on_device["loss"] == pytest.approx(host["loss"], rel=1e-4 * looser)
        if "confusion" not in host:  # a regression: no classes
            assert "confusion" not in on_device
            atol = 1e-6
        elif looser > 1 or "BatchNorm" in project.read_text(encoding="utf-8"):
            # a sample may flip on a GPU, or with the noisy biases before a BatchNorm (see above)
            changed = np.abs(np.subtract(on_device["confusion"], host["confusion"])).sum() // 2
            assert changed <= 0.01 * host["n"]
            atol = 1e-3
        else:
            assert on_device.get("confusion") == host.get("confusion")
            atol = 1e-6
        np.testing.assert_allclose(final["cupy"]["outputs"], final["numpy"]["outputs"], rtol=1e-4 * looser,
                                   atol=atol * looser)
    code, out, err = _cli(["profile", str(project), "--backend", "cupy", "--repeats", "1"])
    assert code == 0, err
    assert "backend cupy" in out


# -- how often a training step crosses between host and device --------------------------------------------
def test_a_training_step_crosses_to_the_host_a_known_number_of_times(cp, tmp_path, monkeypatch):
    """Each read of a device value waits for the GPU to finish the work queued so far.  The mnist-cnn example's
    training step on the device, with gradient norms reported as the app asks for them, reads four: the label
    range check, the loss, the accuracy and the gradient norms (one transfer for all layers); and copies the
    batch's images and labels up.  Counted as the difference between runs of 12 and 4 steps, so the set-up and
    the final evaluation cancel out.  More would be a regression on a GPU; fewer, a change to note here."""
    from nnstudio.data.mnist import load_mnist_subset  # noqa: PLC0415
    from nnstudio.graph.project_file import load_project  # noqa: PLC0415
    from nnstudio.training.config import TrainingConfig  # noqa: PLC0415
    from nnstudio.training.trainer import Trainer  # noqa: PLC0415

    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "data"))
    project = load_project(resource("examples", "mnist-cnn.json"))
    dataset = load_mnist_subset()
    crossings = []
    for steps in (4, 12):
        settings = dict(project.training, backend="cupy", epochs=1, validation_split=0.0,
                        max_train_samples=steps * int(project.training["batch_size"]), max_test_samples=64,
                        report_grad_norms=True, probe_every=0, hints=False)
        trainer = Trainer(project.graph, dataset, TrainingConfig.from_dict(settings), "cupy")
        fake_cupy.CROSSINGS.clear()
        events = list(trainer.run())
        assert events[-1].reason == "completed"
        crossings.append(dict(fake_cupy.CROSSINGS))
    per_step = {key: (crossings[1].get(key, 0) - crossings[0].get(key, 0)) / 8 for key in ("sync", "to_host",
                                                                                           "to_device")}
    assert per_step == {"sync": 3, "to_host": 1, "to_device": 2}, per_step
