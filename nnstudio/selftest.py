"""``nnstudio --self-test``: prove, headless and in well under a minute, that this installation works.

Why this exists: a frozen app can build cleanly and still fail at run time (a module PyInstaller missed, a
stripped library, a resource left out of the bundle).  The self-test walks the path a new user takes: the
resources are there, the main window opens, the MNIST CNN example loads, a short training run goes through
the GUI's own worker thread, the shipped digit model reads digits drawn on the real drawing canvas, and the
trained network exports to ONNX.  It prints one line per check with its time and exits 0 only when every
check passed; a failure names the step and says what went wrong.

It runs offscreen unless ``QT_QPA_PLATFORM`` says otherwise, and keeps the user's settings and data out of
it (``NNSTUDIO_DATA_DIR`` points at a temporary folder).  Qt is reached only through ``nnstudio.ui``.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, TextIO

import numpy as np

from nnstudio import __version__
from nnstudio.errors import UserError
from nnstudio.resources_path import resource, resources_root

EXAMPLE = "mnist-cnn.json"
DEFAULT_SUBSET = 512
TEST_SUBSET = 256
TRAIN_TIMEOUT_S = 300.0
WINDOW_TIMEOUT_S = 10.0
REQUIRED_RESOURCES = (
    ("datasets", "mnist10k.npz"), ("datasets", "CREDITS.md"),
    ("models", "digits-lenet.json"), ("models", "digits-lenet.npz"),
    ("examples", EXAMPLE),
    ("icons", "app.svg"), ("icons", "nnstudio.png"), ("icons", "nnstudio.ico"),
    ("translations", "zh_CN", "LC_MESSAGES", "nnstudio.mo"),
)


class CheckFailed(Exception):
    """A check found something wrong; the message says what was expected and what was found."""


@dataclass
class CheckResult:
    """How one check went: status is "ok", "FAIL" or "skip"."""

    name: str
    status: str
    seconds: float
    detail: str


def _arc(cx: float, cy: float, rx: float, ry: float, start_deg: float, end_deg: float, n: int = 40) -> np.ndarray:
    t = np.radians(np.linspace(start_deg, end_deg, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def synthetic_digits() -> dict[int, list[np.ndarray]]:
    """Strokes (canvas pixels on the 280 x 280 canvas) that a person might draw for a few digits."""
    return {
        0: [_arc(140, 140, 60, 95, 0, 360, 80)],
        3: [np.concatenate([_arc(135, 90, 55, 45, -150, 90, 30), _arc(135, 185, 60, 50, -90, 150, 30)])],
        4: [np.array([(170, 40), (80, 170), (210, 170)], float), np.array([(170, 90), (170, 245)], float)],
        7: [np.array([(80, 50), (200, 50), (120, 240)], float)],
    }


class SelfTest:
    """The checks, run in order; a check whose prerequisite failed is skipped (and the test fails)."""

    def __init__(self, work_dir: Path, subset: int = DEFAULT_SUBSET, epochs: int = 1,
                 out: TextIO | None = None, example: Path | None = None) -> None:
        self.work_dir = work_dir
        self.example = example or resource("examples", EXAMPLE)
        self.subset = subset
        self.epochs = epochs
        self.out = out or sys.stdout
        self.app: Any = None
        self.window: Any = None
        self.project: Any = None
        self.weights: dict[str, np.ndarray] | None = None
        self.results: list[CheckResult] = []
        self.checks: list[tuple[str, Callable[[], str], tuple[str, ...]]] = [
            ("resources", self.check_resources, ()),
            ("main window", self.check_main_window, ()),
            ("example", self.check_example, ("main window",)),
            ("train", self.check_train, ("example",)),
            ("predict", self.check_predict, ("main window",)),
            ("export onnx", self.check_export, ("train",)),
            ("captcha data", self.check_captcha, ()),
            ("about", self.check_about, ("main window",)),
        ]

    # -- running -------------------------------------------------------------------------------------------
    def run(self) -> bool:
        frozen = "standalone app" if getattr(sys, "frozen", False) else "source"
        self._print(f"NN Studio {__version__} self-test ({frozen}; Python {platform.python_version()}, "
                    f"NumPy {np.__version__}, {platform.system()} {platform.machine()})")
        started = time.perf_counter()
        for name, check, needs in self.checks:
            self._run_one(name, check, needs)
        total = time.perf_counter() - started
        failed = [r.name for r in self.results if r.status != "ok"]
        self._close_window()
        if failed:
            self._print(f"self-test FAILED at: {', '.join(failed)} ({total:.1f} s)")
            return False
        self._print(f"self-test passed: {len(self.results)} checks in {total:.1f} s")
        return True

    def _run_one(self, name: str, check: Callable[[], str], needs: tuple[str, ...]) -> None:
        blocked = [r.name for r in self.results if r.name in needs and r.status != "ok"]
        if blocked:
            result = CheckResult(name, "skip", 0.0, f"needs {', '.join(blocked)}")
        else:
            t0 = time.perf_counter()
            try:
                detail = check()
                result = CheckResult(name, "ok", time.perf_counter() - t0, detail)
            except (CheckFailed, UserError) as exc:
                result = CheckResult(name, "FAIL", time.perf_counter() - t0, str(exc))
            except Exception as exc:  # noqa: BLE001 - any crash is a failed check, reported with its trace
                trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                result = CheckResult(name, "FAIL", time.perf_counter() - t0,
                                     f"{type(exc).__name__}: {exc}\n{trace.rstrip()}")
        self.results.append(result)
        first, *rest = result.detail.splitlines() or [""]
        self._print(f"  {result.status:<4}  {name:<12} {result.seconds:6.2f} s  {first}")
        for line in rest:
            self._print(f"        {line}")

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _close_window(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window.deleteLater()
            self.window = None
        if self.app is not None:
            self.app.processEvents()

    def _pump(self, seconds: float = 0.0) -> None:
        """Let Qt handle pending events (for about ``seconds``)."""
        deadline = time.perf_counter() + seconds
        while True:
            self.app.processEvents()
            if time.perf_counter() >= deadline:
                return
            time.sleep(0.005)

    # -- the checks ------------------------------------------------------------------------------------------
    def check_resources(self) -> str:
        root = resources_root()
        missing = [os.path.join(*parts) for parts in REQUIRED_RESOURCES if not resource(*parts).is_file()]
        if missing:
            raise CheckFailed(f"resources missing under {root}: {', '.join(missing)}")
        count = sum(1 for p in root.rglob("*") if p.is_file())
        return f"{count} files in {root}"

    def check_main_window(self) -> str:
        from nnstudio.ui.app import create_application
        from nnstudio.ui.i18n import set_language

        self.app = create_application([sys.argv[0] if sys.argv else "nnstudio"])
        set_language("en")
        from nnstudio.ui.main_window import MainWindow

        self.window = MainWindow()
        self.window.show()
        deadline = time.perf_counter() + WINDOW_TIMEOUT_S
        while time.perf_counter() < deadline:
            self._pump()
            handle = self.window.windowHandle()
            if handle is not None and handle.isExposed():
                break
            time.sleep(0.01)
        else:
            raise CheckFailed(f"the main window was not shown within {WINDOW_TIMEOUT_S:.0f} s")
        size = self.window.size()
        return f"{size.width()}x{size.height()} on Qt platform '{self.app.platformName()}'"

    def check_example(self) -> str:
        from nnstudio.graph.shapes import infer_shapes

        path = self.example
        if not path.is_file():
            raise CheckFailed(f"example {path.name} not found in {path.parent}")
        if not self.window.open_example(path):
            raise CheckFailed(f"{path.name} did not open: {self.window.last_error or 'no reason given'}")
        self.project = self.window.project
        graph = self.project.graph
        if not graph.nodes:
            raise CheckFailed(f"{path.name} opened with an empty graph")
        report = infer_shapes(graph, loss=self.project.training.get("loss"))
        if report.errors:
            raise CheckFailed(f"{path.name}: the graph has errors:\n{report.error_text()}")
        return f"{path.name}: {len(graph.nodes)} blocks, {report.total_params:,} parameters"

    def _training_dataset(self) -> Any:
        from nnstudio.data.registry import get_dataset

        name = str(self.project.training.get("dataset") or "mnist")
        full = get_dataset(name)
        if full.n_train < self.subset:
            raise CheckFailed(f"dataset {name} has {full.n_train} training samples, the self-test needs {self.subset}")
        return replace(full, x_train=full.x_train[:self.subset], y_train=full.y_train[:self.subset],
                       x_test=full.x_test[:TEST_SUBSET], y_test=full.y_test[:TEST_SUBSET])

    def check_train(self) -> str:
        from nnstudio.ui.panels import Dashboard
        from nnstudio.ui.worker import TrainingRequest, TrainingSession

        dataset = self._training_dataset()
        settings = dict(self.project.training)
        settings.update(epochs=self.epochs, validation_split=0.0, augment=False, backend="numpy",
                        dataset=dataset.name)
        request = TrainingRequest(self.project.graph.copy(), settings, views=set())
        session = TrainingSession(request, dataset=dataset)
        losses: list[float] = []
        session.batches.connect(lambda reports: losses.extend(float(r.loss) for r in reports))
        # The live panels (pyqtgraph) follow the run as in the app, so a frozen build proves they work.
        dashboard = Dashboard(dataset_getter=lambda: dataset)
        dashboard.connect_session(session)
        dashboard.curves.resize(480, 320)
        dashboard.curves.show()
        session.start()
        deadline = time.perf_counter() + TRAIN_TIMEOUT_S
        while session.is_running and time.perf_counter() < deadline:
            self._pump(0.02)
        if session.is_running:
            session.stop_and_wait()
            raise CheckFailed(f"training {self.subset} samples did not finish within {TRAIN_TIMEOUT_S:.0f} s")
        result = session.result
        if result is None or result.reason in ("stopped", "nan", "error", "out_of_memory"):
            reason = "no result" if result is None else f"{result.reason}: {result.message}"
            raise CheckFailed(f"the run did not finish normally ({reason})")
        if not losses:
            raise CheckFailed("the run finished without reporting a single batch")
        if not all(math.isfinite(v) for v in losses):
            raise CheckFailed(f"non-finite loss during training: {losses}")
        if not result.weights or not all(np.isfinite(w).all() for w in result.weights.values()):
            raise CheckFailed("the trained weights are missing or not finite")
        first, last = float(np.mean(losses[:2])), float(np.mean(losses[-2:]))
        if len(losses) >= 4 and not last < first:
            raise CheckFailed(f"the loss did not go down: first batches {first:.3f}, last batches {last:.3f}")
        self.weights = result.weights
        dashboard.redraw_all()
        plotted = len(dashboard.curves.history().get("loss", ()))
        picture = dashboard.curves.grab()
        dashboard.curves.close()
        dashboard.timer.stop()
        if plotted != len(losses) or picture.isNull():
            raise CheckFailed(f"the loss curve panel shows {plotted} of the {len(losses)} training steps")
        from nnstudio.engine import threads
        from nnstudio.engine.backend import blas_threads

        if blas_threads() > 1 and not threads.fixed_by_environment() and not threads.controllable():
            raise CheckFailed("the BLAS's thread count cannot be changed (threadpoolctl found no BLAS library), "
                              "so the engine cannot choose its threads")
        tuned = "threads chosen by measuring" if len(threads.candidates()) > 1 else f"{blas_threads()} thread(s)"
        return (f"{self.subset} samples, {self.epochs} epoch(s), {len(losses)} steps on {settings['backend']} "
                f"({tuned}): loss {first:.3f} -> {last:.3f}, curves panel drawn")

    def check_predict(self) -> str:
        from nnstudio.predictor import default_predictor
        from nnstudio.ui.canvas import DrawingCanvas

        predictor = default_predictor()
        canvas = DrawingCanvas()
        seen = []
        for expected, strokes in synthetic_digits().items():
            canvas.clear()
            for stroke in strokes:
                canvas.add_stroke(stroke, width=22.0)
            outcome = predictor.predict_drawing(canvas.to_array())
            if outcome is None:
                raise CheckFailed(f"the canvas drawing of a {expected} was read as empty")
            prediction = outcome[1]
            if prediction.top != expected:
                raise CheckFailed(f"drew a {expected}, the shipped model read {prediction.top_name} "
                                  f"({prediction.confidence:.0%})")
            seen.append(f"{expected}:{prediction.confidence:.0%}")
        canvas.deleteLater()
        return "canvas digits read correctly by the shipped model (" + ", ".join(seen) + ")"

    def check_export(self) -> str:
        from nnstudio.export.onnx_export import export_onnx

        path = self.work_dir / f"{self.example.stem}.onnx"
        export_onnx(self.project, self.weights, path)
        if not path.is_file() or path.stat().st_size == 0:
            raise CheckFailed(f"no ONNX file was written at {path}")
        size = f"{path.stat().st_size / 1024:.0f} KiB"
        try:
            import onnx
        except ImportError:
            return f"{path.name} written ({size}); onnx is not installed, file not checked"
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        agreement = self._compare_with_reference(onnx, path)
        return f"{path.name} ({size}) passes onnx.checker{agreement}"

    def _compare_with_reference(self, onnx: Any, path: Path) -> str:
        """Run the file with ONNX's own reference evaluator and compare with our engine on a few digits."""
        try:
            from onnx.reference import ReferenceEvaluator
        except ImportError:
            return ""
        from nnstudio.graph.compile import compile_graph

        model = compile_graph(self.project.graph, "numpy", seed=0)
        model.load_state_dict(self.weights)
        x = np.ascontiguousarray(self._training_dataset().x_test[:4], dtype=np.float32)
        ours = np.asarray(model.predict(x))
        session = ReferenceEvaluator(onnx.load(str(path)))
        feed_name = session.input_names[0]
        theirs = np.asarray(session.run(None, {feed_name: x.reshape((x.shape[0],) + tuple(model.input_shape))})[0])
        if theirs.shape != ours.shape or not np.allclose(theirs, ours, rtol=1e-3, atol=1e-4):
            worst = float(np.max(np.abs(theirs.reshape(ours.shape) - ours))) if theirs.size == ours.size else math.nan
            raise CheckFailed(f"the ONNX file computes something else than the engine: shapes {theirs.shape} vs "
                              f"{ours.shape}, largest difference {worst:.2e}")
        return ", same outputs as the engine on 4 digits"

    def check_captcha(self) -> str:
        """Generate a few captchas: Pillow and the captcha package's font must both be in the build."""
        from nnstudio.data.registry import get_dataset

        data = get_dataset("captcha", n_train=8, n_test=2, seed=7)
        images = data.x_train
        if images.shape[0] != 8 or not np.isfinite(images).all():
            raise CheckFailed(f"expected 8 finite captcha images, found shape {images.shape}")
        contrast = float(images.reshape(8, -1).std(axis=1).min())
        if contrast < 0.02:
            raise CheckFailed(f"a generated captcha is blank (pixel spread {contrast:.3f}); is the font missing?")
        # A big set is rendered in processes this executable spawns: they must start and draw the same images.
        from nnstudio.data import captcha_digits

        shape = captcha_digits.DEFAULT_SHAPE
        spread, spread_labels = captcha_digits.render_in_processes(4, 7, "selftest", shape, processes=2)
        if spread is None:
            raise CheckFailed("captchas could not be rendered in two processes (a spawned process did not start)")
        alone, alone_labels = captcha_digits.render(0, 4, 7, "selftest", shape)
        if not (np.array_equal(spread, alone) and np.array_equal(spread_labels, alone_labels)):
            raise CheckFailed("captchas rendered in two processes differ from the same ones rendered here")
        # A limited run's captchas: the processes are handed the image numbers in a file.
        rows = np.array([9, 2])
        picked, picked_labels = captcha_digits.render_in_processes(2, 7, "selftest", shape, processes=2, rows=rows)
        if picked is None:
            raise CheckFailed("captchas picked by number could not be rendered in two processes")
        here, here_labels = captcha_digits.render(0, 2, 7, "selftest", shape, rows=rows)
        if not (np.array_equal(picked, here) and np.array_equal(picked_labels, here_labels)):
            raise CheckFailed("captchas picked by number and rendered in two processes differ from those drawn here")
        return (f"8 captchas {images.shape[-2]}x{images.shape[-1]} drawn, labels "
                f"{''.join(map(str, data.y_train[0]))}...; 6 more in two processes, the same as drawn here")

    def check_about(self) -> str:
        from nnstudio.ui.about import AboutDialog

        dialog = AboutDialog(self.window)
        dialog.show()
        self._pump()
        licences, credits = dialog.licences.toPlainText(), dialog.credits.toPlainText()
        dialog.close()
        dialog.deleteLater()
        for needle, text, where in (("LGPL", licences, "licences"), ("MIT", licences, "licences"),
                                    ("MNIST", credits, "data credits")):
            if needle not in text:
                raise CheckFailed(f"the About dialog's {where} tab does not mention {needle}")
        return f"version {__version__}, licences and data credits shown"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nnstudio --self-test",
                                     description="Check headless that NN Studio works on this computer.")
    parser.add_argument("--subset", type=int, default=DEFAULT_SUBSET,
                        help=f"training samples for the short run (default {DEFAULT_SUBSET})")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of the short run (default 1)")
    parser.add_argument("--example", type=Path, default=None,
                        help=f"project file to load, train and export (default: the shipped {EXAMPLE})")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (the ONNX file) and print it")
    args = parser.parse_args(argv)
    if args.subset < 64:
        parser.error(f"--subset must be at least 64, found {args.subset}")
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, found {args.epochs}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every check; 0 when all passed, 1 otherwise.

    ``argv`` holds the self-test's own options.  When it is None (``nnstudio --self-test`` through the CLI),
    the options are whatever follows ``--self-test`` on the command line.
    """
    if argv is None:
        argv = sys.argv[sys.argv.index("--self-test") + 1:] if "--self-test" in sys.argv else []
    args = _parse([a for a in argv if a != "--self-test"])
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work_dir = Path(tempfile.mkdtemp(prefix="nnstudio-selftest-"))
    saved = {key: os.environ.get(key) for key in ("NNSTUDIO_DATA_DIR", "NNSTUDIO_NO_DIALOGS")}
    os.environ["NNSTUDIO_DATA_DIR"] = str(work_dir / "userdata")
    os.environ["NNSTUDIO_NO_DIALOGS"] = "1"
    try:
        ok = SelfTest(work_dir, subset=args.subset, epochs=args.epochs, example=args.example).run()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if args.keep:
            print(f"kept {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
