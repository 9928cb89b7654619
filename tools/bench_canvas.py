"""How long a stroke update takes to reach the probability bars on the "Draw a digit" page.

Why this exists: the page promises live predictions (under 20 ms from a stroke update to updated bars for
the LeNet model on a 2-core CPU).  This script draws digits point by point on a real DigitPanel (offscreen)
and, after each point, times the page's own update path: reading the canvas into NumPy, the shared
preprocessing, the forward pass, setting the bars and labels, and repainting them.  It prints the median,
95th percentile and maximum of each part in milliseconds (``--json`` for a machine-readable line).

Usage::

    QT_QPA_PLATFORM=offscreen python tools/bench_canvas.py [--rounds 3] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from nnstudio.data.drawing import preprocess_drawing  # noqa: E402


def digit_strokes() -> list[list[tuple[float, float]]]:
    """Point sequences for a few digits (canvas pixels, 280 x 280), sampled like a mouse at ~4 px steps."""
    t = np.linspace(0.0, 2.0 * np.pi, 90)
    zero = list(zip(140 + 58 * np.sin(t), 140 - 88 * np.cos(t)))
    one = [(140.0, y) for y in np.linspace(45, 235, 48)]
    seven = [(x, 60.0) for x in np.linspace(70, 210, 36)] + list(zip(np.linspace(210, 120, 46),
                                                                       np.linspace(60, 240, 46)))
    a = np.linspace(-0.75 * np.pi, 0.5 * np.pi, 45)
    b = np.linspace(-0.5 * np.pi, 0.8 * np.pi, 50)
    three = list(zip(140 + 50 * np.cos(a), 95 + 42 * np.sin(a))) + list(zip(138 + 60 * np.cos(b),
                                                                             185 + 48 * np.sin(b)))
    return [zero, one, seven, three]


def stats(values: list[float]) -> dict[str, float]:
    ms = np.asarray(values) * 1000.0
    return {"median_ms": round(float(np.median(ms)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "max_ms": round(float(ms.max()), 3)}


def run(rounds: int) -> dict[str, object]:
    app = QApplication.instance() or QApplication([])
    from nnstudio.ui.digit_panel import DigitPanel  # noqa: PLC0415 - after the QApplication exists

    panel = DigitPanel()
    panel.resize(760, 430)
    panel.show()
    app.processEvents()
    predictor = panel.predictor
    parts: dict[str, list[float]] = {k: [] for k in ("stroke", "read_canvas", "preprocess", "forward",
                                                     "bars_set", "bars_paint", "update_to_bars")}
    for _ in range(rounds):
        for points in digit_strokes():
            panel.canvas.clear()
            panel.canvas.begin_stroke(*points[0])
            for x, y in points[1:]:
                t0 = time.perf_counter()
                panel.canvas.extend_stroke(x, y)
                t1 = time.perf_counter()
                # The page's whole path, as the throttling timer runs it ...
                panel.update_prediction()
                panel.bars.repaint()
                panel.preview.repaint()
                panel.top_label.repaint()
                t2 = time.perf_counter()
                parts["stroke"].append(t1 - t0)
                parts["update_to_bars"].append(t2 - t1)
                # ... and its parts one by one, for the breakdown.
                a = time.perf_counter()
                canvas_array = panel.canvas.to_uint8()
                b = time.perf_counter()
                image28 = preprocess_drawing(canvas_array)
                c = time.perf_counter()
                prediction = predictor.predict_image(image28)
                d = time.perf_counter()
                panel.bars.set_values(prediction.probabilities, prediction.class_names)
                e = time.perf_counter()
                panel.bars.repaint()
                f = time.perf_counter()
                parts["read_canvas"].append(b - a)
                parts["preprocess"].append(c - b)
                parts["forward"].append(d - c)
                parts["bars_set"].append(e - d)
                parts["bars_paint"].append(f - e)
            panel.canvas.end_stroke()
    result: dict[str, object] = {name: stats(values) for name, values in parts.items()}
    result["updates"] = len(parts["update_to_bars"])
    result["model"] = predictor.name
    result["cpu_count"] = os.cpu_count()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="how many times to draw the set of digits")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = parser.parse_args(argv)
    result = run(args.rounds)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['updates']} stroke updates, model {result['model']}, {result['cpu_count']} CPUs")
    print(f"{'part':<16}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    for name in ("stroke", "read_canvas", "preprocess", "forward", "bars_set", "bars_paint", "update_to_bars"):
        s = result[name]
        print(f"{name:<16}{s['median_ms']:>11.3f}{s['p95_ms']:>9.3f}{s['max_ms']:>9.3f}")
    budget = result["update_to_bars"]["p95_ms"]
    print(f"stroke update -> updated bars: p95 {budget:.2f} ms (budget 20 ms: {'met' if budget < 20 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
