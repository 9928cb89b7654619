"""A square drawing canvas for handwritten digits: mouse or pen, round antialiased strokes, undo, clear.

Why this exists: "draw a digit and see what the network thinks" is the most direct way to meet a trained
model.  The canvas keeps every stroke as a list of points (with pen pressure) so the last stroke can be
undone by re-rendering the others, draws into a grayscale ``QImage`` (white ink on black by default, like
MNIST; the shared preprocessing accepts either polarity) and hands the image to NumPy without a per-pixel
loop (:meth:`DrawingCanvas.to_array` reads the image's own bytes).  Every change emits
``drawing_changed``; the digit page throttles its predictions on it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QColor, QFocusEvent, QImage, QKeyEvent, QKeySequence, QMouseEvent, QPainter,
                           QPaintEvent, QPen, QTabletEvent)
from PySide6.QtWidgets import QSizePolicy, QWidget

from nnstudio.errors import UserError
from nnstudio.ui.i18n import tr
from nnstudio.userdirs import atomic_write_bytes

CANVAS_SIZE = 280  # logical pixels: ten canvas pixels for each of the model's 28
DEFAULT_STROKE_WIDTH = 20.0
MIN_STROKE_WIDTH, MAX_STROKE_WIDTH = 4.0, 48.0
MIN_PRESSURE_SCALE = 0.35  # a feather-light pen touch still draws a visible line


@dataclass
class Stroke:
    """One pen-down-to-pen-up line: points (x, y, pressure in [0, 1]) in canvas pixels, and its width."""

    width: float
    points: list[tuple[float, float, float]] = field(default_factory=list)


class DrawingCanvas(QWidget):
    """The drawing surface.  ``drawing_changed`` fires on every point added, undo and clear."""

    drawing_changed = Signal()
    stroke_finished = Signal()

    def __init__(self, parent: QWidget | None = None, size: int = CANVAS_SIZE, ink_on_black: bool = True) -> None:
        super().__init__(parent)
        self._size = int(size)
        self.ink_on_black = ink_on_black
        self.strokes: list[Stroke] = []
        self._current: Stroke | None = None
        self._stroke_width = DEFAULT_STROKE_WIDTH
        self._image = QImage(self._size, self._size, QImage.Format.Format_Grayscale8)
        self._image.fill(self._paper())
        self.setFixedSize(self._size, self._size)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setToolTip(tr("Draw with the mouse or a pen. Esc clears, Ctrl+Z undoes the last stroke."))

    # -- colours ------------------------------------------------------------------------------------------
    def _paper(self) -> QColor:
        return QColor(0, 0, 0) if self.ink_on_black else QColor(255, 255, 255)

    def _ink(self) -> QColor:
        return QColor(255, 255, 255) if self.ink_on_black else QColor(0, 0, 0)

    # -- state ----------------------------------------------------------------------------------------------
    @property
    def stroke_width(self) -> float:
        return self._stroke_width

    def set_stroke_width(self, width: float) -> None:
        """Width of the strokes drawn from now on (canvas pixels), clamped to a usable range."""
        self._stroke_width = float(min(max(width, MIN_STROKE_WIDTH), MAX_STROKE_WIDTH))

    def is_empty(self) -> bool:
        return not self.strokes

    def image(self) -> QImage:
        """The rendered drawing (grayscale, ``size`` x ``size``)."""
        return self._image

    def to_array(self) -> np.ndarray:
        """The drawing as a 2-D float32 array in [0, 1] (1 = white), read straight from the image bytes."""
        return self.to_uint8().astype(np.float32) * np.float32(1.0 / 255.0)

    def to_uint8(self) -> np.ndarray:
        """The drawing as a 2-D uint8 array (a copy; rows of the image may be padded, the padding is cut)."""
        image = self._image
        h, w, stride = image.height(), image.width(), image.bytesPerLine()
        raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=h * stride)
        return raw.reshape(h, stride)[:, :w].copy()

    # -- editing --------------------------------------------------------------------------------------------
    def clear(self) -> None:
        """Remove every stroke."""
        if not self.strokes and self._current is None:
            return
        self.strokes.clear()
        self._current = None
        self._render_all()

    def undo(self) -> bool:
        """Remove the last stroke; False when there was none."""
        if not self.strokes:
            return False
        removed = self.strokes.pop()
        if removed is self._current:
            self._current = None
        self._render_all()
        return True

    def begin_stroke(self, x: float, y: float, pressure: float = 1.0) -> None:
        self._current = Stroke(self._stroke_width)
        self.strokes.append(self._current)
        self.extend_stroke(x, y, pressure)

    def extend_stroke(self, x: float, y: float, pressure: float = 1.0) -> None:
        """Add a point to the stroke being drawn and paint only the new segment."""
        stroke = self._current
        if stroke is None:
            return
        point = (float(x), float(y), float(min(max(pressure, 0.0), 1.0)))
        previous = stroke.points[-1] if stroke.points else None
        stroke.points.append(point)
        painter = QPainter(self._image)
        try:
            self._paint_segment(painter, stroke.width, previous, point)
        finally:
            painter.end()
        self.update()
        self.drawing_changed.emit()

    def end_stroke(self) -> None:
        if self._current is not None:
            self._current = None
            self.stroke_finished.emit()

    def add_stroke(self, points: list[tuple[float, float]] | np.ndarray, width: float | None = None,
                   pressure: float = 1.0) -> None:
        """Draw a whole stroke at once (for scripts, benchmarks and tests), emitting one change."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if len(pts) == 0:
            return
        stroke = Stroke(self._stroke_width if width is None else float(width),
                        [(float(x), float(y), float(pressure)) for x, y in pts])
        self.strokes.append(stroke)
        painter = QPainter(self._image)
        try:
            self._paint_stroke(painter, stroke)
        finally:
            painter.end()
        self.update()
        self.drawing_changed.emit()
        self.stroke_finished.emit()

    def _render_all(self) -> None:
        self._image.fill(self._paper())
        if self.strokes:
            painter = QPainter(self._image)
            try:
                for stroke in self.strokes:
                    self._paint_stroke(painter, stroke)
            finally:
                painter.end()
        self.update()
        self.drawing_changed.emit()

    def _paint_stroke(self, painter: QPainter, stroke: Stroke) -> None:
        previous = None
        for point in stroke.points:
            self._paint_segment(painter, stroke.width, previous, point)
            previous = point

    def _paint_segment(self, painter: QPainter, width: float, start: tuple[float, float, float] | None,
                       end: tuple[float, float, float]) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pressure = end[2] if start is None else 0.5 * (start[2] + end[2])
        pen = QPen(self._ink(), width * (MIN_PRESSURE_SCALE + (1.0 - MIN_PRESSURE_SCALE) * pressure),
                   Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        if start is None or (start[0] == end[0] and start[1] == end[1]):
            painter.drawPoint(QPointF(end[0], end[1]))  # a dot (a round cap) for a click without movement
        else:
            painter.drawLine(QPointF(start[0], start[1]), QPointF(end[0], end[1]))

    # -- files ----------------------------------------------------------------------------------------------
    def png_bytes(self) -> bytes:
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not self._image.save(buffer, "PNG"):
            raise UserError("drawing: the image could not be encoded as PNG")
        buffer.close()
        return bytes(data.data())

    def save_png(self, path: str | os.PathLike) -> Path:
        """Write the drawing as a grayscale PNG, atomically; UserError naming the file when that fails."""
        target = Path(path)
        if target.suffix.lower() != ".png":
            target = target.with_name(target.name + ".png")
        try:
            atomic_write_bytes(target, self.png_bytes())
        except OSError as exc:
            raise UserError(f"drawing: cannot write '{target}' ({exc.strerror or exc})") from None
        return target

    # -- Qt events -----------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.drawImage(QRectF(self.rect()), self._image)
        if self.is_empty():
            painter.setPen(QColor(120, 128, 140) if self.ink_on_black else QColor(150, 150, 150))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, tr("Draw a digit here"))
        painter.setPen(QPen(QColor("#5B8CFF") if self.hasFocus() else QColor("#3A3F4B"), 1.0))
        painter.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        painter.end()

    def _to_canvas(self, pos: QPointF) -> tuple[float, float]:
        scale = self._size / max(1, self.width())
        return pos.x() * scale, pos.y() * scale

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.begin_stroke(*self._to_canvas(event.position()))
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._current is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self.extend_stroke(*self._to_canvas(event.position()))
            event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            if self._current is not None:
                x, y = self._to_canvas(event.position())
                last = self._current.points[-1]
                if (x, y) != (last[0], last[1]):
                    self.extend_stroke(x, y, last[2])
            self.end_stroke()
            event.accept()

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: N802
        """A pen: the same as the mouse, with the pen's pressure scaling the stroke width."""
        x, y = self._to_canvas(event.position())
        kind = event.type()
        if kind == QTabletEvent.Type.TabletPress:
            self.begin_stroke(x, y, event.pressure())
        elif kind == QTabletEvent.Type.TabletMove and self._current is not None:
            self.extend_stroke(x, y, event.pressure())
        elif kind == QTabletEvent.Type.TabletRelease:
            self.end_stroke()
        event.accept()  # no synthesised mouse events on top

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - the frame shows keyboard focus
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusOutEvent(event)
        self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.clear()
            event.accept()
        elif event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
            event.accept()
        else:
            super().keyPressEvent(event)
