"""Measure the canvas's "not sure" rule: how many non-digits it flags, and how many real digits it wrongly flags.

Non-digits are generated on the 280 x 280 canvas (seeded): random straight strokes, random-walk scribbles,
letters that do not look like digits (printed in Pillow's own font, rotated a little) and dots.  Real digits
are the test split of the shipped MNIST subset, enlarged ten times onto the canvas.  Both go through the
canvas's own pipeline: preprocessing, the shipped LeNet (or --project/--weights), then
:class:`nnstudio.digit_doubt.DigitDoubt`.

    .venv/bin/python tools/measure_not_sure.py [--per-kind 200] [--seed 0] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nnstudio.data.drawing import preprocess_drawing  # noqa: E402
from nnstudio.digit_doubt import DigitDoubt  # noqa: E402

SIDE = 280
# Letters people do not write like a digit (O, I, l, S, Z, B, G, b, g, q, D, T, J, L... are left out).
LETTERS = "ACEFHKMNPRUVWXYaefhkmnprtuwxy"


def _blank() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (SIDE, SIDE), 0)
    return image, ImageDraw.Draw(image)


def strokes(rng: np.random.Generator) -> np.ndarray:
    image, pen = _blank()
    for _ in range(int(rng.integers(3, 9))):
        points = [tuple(rng.uniform(20, SIDE - 20, 2)) for _ in range(int(rng.integers(2, 6)))]
        pen.line(points, fill=255, width=int(rng.integers(12, 28)), joint="curve")
    return np.asarray(image)


def scribble(rng: np.random.Generator) -> np.ndarray:
    image, pen = _blank()
    p, angle = rng.uniform(80, 200, 2), rng.uniform(0, 2 * np.pi)
    points = [tuple(p)]
    for _ in range(int(rng.integers(40, 120))):
        angle += rng.normal(0, 0.7)
        p = np.clip(p + 8 * np.array([np.cos(angle), np.sin(angle)]), 15, SIDE - 15)
        points.append(tuple(p))
    pen.line(points, fill=255, width=int(rng.integers(12, 26)), joint="curve")
    return np.asarray(image)


def letter(rng: np.random.Generator) -> np.ndarray:
    image, pen = _blank()
    font = ImageFont.load_default(size=int(rng.integers(150, 230)))
    pen.text((SIDE / 2 + rng.uniform(-20, 20), SIDE / 2 + rng.uniform(-20, 20)),
             LETTERS[int(rng.integers(len(LETTERS)))], fill=255, font=font, anchor="mm")
    return np.asarray(image.rotate(float(rng.uniform(-15, 15))))


def dots(rng: np.random.Generator) -> np.ndarray:
    image, pen = _blank()
    for _ in range(int(rng.integers(1, 4))):
        (cx, cy), r = rng.uniform(30, SIDE - 30, 2), rng.uniform(3, 14)
        pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    return np.asarray(image)


KINDS = {"strokes": strokes, "scribble": scribble, "letter": letter, "dots": dots}


def real_digits() -> tuple[np.ndarray, np.ndarray]:
    from nnstudio.data.registry import get_dataset  # noqa: PLC0415

    ds = get_dataset("mnist", variant="10k")
    return ds.x_test.reshape(-1, 28, 28), ds.y_test


def enlarge(image28: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray((image28 * 255).astype(np.uint8)).resize((SIDE, SIDE),
                                                                                Image.Resampling.BILINEAR))


def judge_all(predictor, doubt: DigitDoubt, canvases) -> list[tuple[bool, str, int]]:
    """(flagged, reason, predicted class) per canvas; an empty drawing (no ink) counts as flagged."""
    out = []
    for gray in canvases:
        image28 = preprocess_drawing(gray)
        if image28 is None:
            out.append((True, "empty", -1))
            continue
        prediction = predictor.predict_image(image28)
        verdict = doubt.judge(gray, image28, prediction.probabilities)
        out.append((not verdict.sure, verdict.reason, prediction.top))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=200, help="non-digits of each kind (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--project", help="a project file with a digit classifier (default: the shipped LeNet)")
    parser.add_argument("--weights", help="its weights (default: beside the project)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from nnstudio.predictor import default_predictor, load_digit_predictor  # noqa: PLC0415

    predictor = load_digit_predictor(args.project, args.weights) if args.project else default_predictor()
    doubt = DigitDoubt(predictor.model)
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    result: dict[str, object] = {"model": predictor.name, "per_kind": args.per_kind, "seed": args.seed}
    flagged_all = 0
    kinds = {}
    for name, make in KINDS.items():
        verdicts = judge_all(predictor, doubt, (make(rng) for _ in range(args.per_kind)))
        share = float(np.mean([v[0] for v in verdicts]))
        flagged_all += sum(v[0] for v in verdicts)
        kinds[name] = {"flagged": round(share, 4),
                       "reasons": {r: sum(1 for v in verdicts if v[1] == r) for r in sorted({v[1] for v in verdicts})}}
    result["non_digits"] = kinds
    result["non_digits_flagged"] = round(flagged_all / (args.per_kind * len(KINDS)), 4)
    images, labels = real_digits()
    verdicts = judge_all(predictor, doubt, (enlarge(img) for img in images))
    flagged = np.array([v[0] for v in verdicts])
    right = np.array([v[2] for v in verdicts]) == labels
    result["real_digits"] = len(labels)
    result["real_digits_flagged"] = round(float(flagged.mean()), 4)
    result["accuracy_of_unflagged"] = round(float(right[~flagged].mean()), 4) if (~flagged).any() else None
    result["accuracy_of_flagged"] = round(float(right[flagged].mean()), 4) if flagged.any() else None
    result["threshold"] = round(float(doubt.threshold), 4)
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"model: {result['model']}; digit-distance threshold {result['threshold']}")
    for name, k in kinds.items():
        reasons = ", ".join(f"{r or 'sure'}: {n}" for r, n in k["reasons"].items())
        print(f"  {name:9s} {k['flagged']:.1%} flagged ({reasons})")
    print(f"non-digits flagged: {result['non_digits_flagged']:.1%} of {args.per_kind * len(KINDS)}")
    print(f"real digits flagged: {result['real_digits_flagged']:.1%} of {len(labels)} (accuracy "
          f"{result['accuracy_of_unflagged']:.1%} on the unflagged, {result['accuracy_of_flagged'] or 0:.1%} on the "
          "flagged)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
