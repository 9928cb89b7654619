"""Draw the gallery picture of every curriculum example: a sample of its data above a strip of its blocks.

The start page shows ``resources/examples/pictures/<example>.png`` on each example's tile (an example without
one gets the plain example icon).  The data part shows what the network will see: the points of a 2-D toy set
coloured by class, the noisy points of the regression, ten digits or clothes (one per class), two captchas.
The strip below shows the network's blocks in order, in the editor's group colours.  Pictures are drawn at
twice the tile's size for sharp text on high-density screens and in presentation mode.

Usage: python tools/make_example_pictures.py [NAME ...]   (default: every example)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nnstudio.data.registry import get_dataset  # noqa: E402
from nnstudio.graph.catalogue import get_block  # noqa: E402

EXAMPLES = ROOT / "resources" / "examples"
OUT = EXAMPLES / "pictures"
WIDTH, HEIGHT = 320, 184  # twice the 160 x 92 tile picture
STRIP = 36  # height of the block strip at the bottom
BACKGROUND = (26, 29, 35)
FRAME = (58, 63, 75)
CLASS_COLOURS = [(122, 162, 255), (245, 158, 11), (16, 185, 129), (236, 72, 153), (139, 92, 246)]
# The editor's group colours (nnstudio/ui/icons.GROUP_COLOURS), kept here so this tool needs no Qt.
GROUP_COLOURS = {"input": "#10B981", "layers": "#3B82F6", "activations": "#F59E0B", "merge": "#EC4899",
                 "regularisation": "#8B5CF6", "other": "#64748B"}


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo or 1.0
    return low + (values - lo) / span * (high - low)


def draw_points(draw: ImageDraw.ImageDraw, x: np.ndarray, y: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """A scatter of 2-D points coloured by class (big dots when there are only a few, like XOR's corners)."""
    left, top, right, bottom = box
    pad = 14 if len(x) <= 8 else 6
    px = _scale(x[:, 0], left + pad, right - pad)
    py = _scale(-x[:, 1], top + pad, bottom - pad)
    radius = 9 if len(x) <= 8 else 3
    labels = np.asarray(y).reshape(len(y), -1)[:, 0].astype(int)
    for cx, cy, label in zip(px, py, labels):
        colour = CLASS_COLOURS[int(label) % len(CLASS_COLOURS)]
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)


def draw_regression(draw: ImageDraw.ImageDraw, x: np.ndarray, y: np.ndarray, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    px = _scale(x[:, 0], left + 8, right - 8)
    py = _scale(-np.asarray(y).reshape(len(y)), top + 8, bottom - 8)
    for cx, cy in zip(px, py):
        draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=CLASS_COLOURS[0])


def one_per_class(x: np.ndarray, y: np.ndarray, count: int = 10) -> np.ndarray:
    picks = []
    for label in range(count):
        where = np.flatnonzero(np.asarray(y) == label)
        if len(where):
            picks.append(x[where[0]])
    return np.stack(picks)


def paste_images(image: Image.Image, samples: np.ndarray, box: tuple[int, int, int, int], columns: int) -> None:
    """Grey images (N, 1, H, W) in values 0..1, laid out in a grid inside ``box``."""
    left, top, right, bottom = box
    rows = int(np.ceil(len(samples) / columns))
    _, h, w = samples.shape[1:]
    cell = min((right - left) // columns, int((bottom - top) / rows * w / h))
    cell_h = int(cell * h / w)
    x0 = left + (right - left - cell * columns) // 2
    y0 = top + (bottom - top - cell_h * rows) // 2
    for i, sample in enumerate(samples):
        grey = np.clip(np.asarray(sample[0], dtype=np.float32), 0.0, 1.0)
        tile = Image.fromarray((grey * 255).astype(np.uint8), "L").resize((cell - 2, cell_h - 2), Image.BILINEAR)
        image.paste(tile.convert("RGB"), (x0 + (i % columns) * cell + 1, y0 + (i // columns) * cell_h + 1))


def draw_data(image: Image.Image, training: dict, box: tuple[int, int, int, int]) -> None:
    name = training.get("dataset", "")
    options = dict(training.get("dataset_options") or {})
    if name == "captcha":
        options["n_train"] = 8
    data = get_dataset(name, **options)
    draw = ImageDraw.Draw(image)
    shape = tuple(data.sample_shape)
    if shape == (2,):
        draw_points(draw, data.x_train[:300], data.y_train[:300], box)
    elif shape == (1,) and data.num_classes == 0:
        draw_regression(draw, data.x_train[:120], data.y_train[:120], box)
    elif len(shape) == 3 and name == "captcha":
        paste_images(image, data.x_train[:2], box, columns=1)
    elif len(shape) == 3:
        paste_images(image, one_per_class(data.x_test, data.y_test), box, columns=5)


def draw_blocks(image: Image.Image, graph: dict, box: tuple[int, int, int, int]) -> None:
    """The network's blocks in file order as a chain of coloured pills."""
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = box
    nodes = graph.get("nodes", [])
    if not nodes:
        return
    gap = 4
    width = max(4, min(34, (right - left - gap * (len(nodes) - 1)) // len(nodes)))
    total = width * len(nodes) + gap * (len(nodes) - 1)
    x = left + (right - left - total) // 2
    mid = (top + bottom) // 2
    draw.line((x, mid, x + total, mid), fill=FRAME, width=2)
    for node in nodes:
        group = get_block(node["type"]).group.strip().lower().replace("regularization", "regularisation")
        colour = _hex(GROUP_COLOURS.get(group, GROUP_COLOURS["other"]))
        draw.rounded_rectangle((x, top + 6, x + width, bottom - 6), radius=5, fill=colour)
        x += width + gap


def make_picture(path: Path) -> Image.Image:
    project = json.loads(path.read_text(encoding="utf-8"))
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw_data(image, project.get("training", {}), (4, 4, WIDTH - 4, HEIGHT - STRIP - 2))
    draw = ImageDraw.Draw(image)
    draw.line((8, HEIGHT - STRIP, WIDTH - 8, HEIGHT - STRIP), fill=FRAME, width=1)
    draw_blocks(image, project.get("graph", {}), (8, HEIGHT - STRIP, WIDTH - 8, HEIGHT - 2))
    return image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw the gallery pictures of the curriculum examples.")
    parser.add_argument("names", nargs="*", help="examples to draw (default: all)")
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    paths = [EXAMPLES / f"{n}.json" for n in args.names] if args.names else sorted(EXAMPLES.glob("*.json"))
    for path in paths:
        image = make_picture(path)
        target = OUT / f"{path.stem}.png"
        image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
        print(f"{target.relative_to(ROOT)}: {target.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
