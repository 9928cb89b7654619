"""Light building blocks for panels that show many small plots (feature maps, histograms, confusion counts).

Why this exists: a pyqtgraph ``PlotItem`` builds its context menu from a designer form, four axes and
buttons, about 10 ms each on an idle machine and several times that while a run keeps the CPU busy.  A panel
of a dozen plots built that way stalled the GUI for a fifth of a second when its first data arrived.  A cell
here is a title, a ``ViewBox`` without menu and only the axes it shows (about 2 ms), and a matrix of counts
is one item that paints its texts itself instead of a hundred ``TextItem`` objects.
"""
from __future__ import annotations

import html
import math
import time
from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen

TITLE_SIZE = "8pt"


def title_metrics(widget: Any) -> QFontMetrics:
    """Font metrics of a cell's title (TITLE_SIZE in ``widget``'s font family), to size cells by their titles."""
    return QFontMetrics(QFont(widget.font().family(), int(TITLE_SIZE.removesuffix("pt"))))


def round_up_125(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at or above ``value`` (1 for zero, negative or non-finite values)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= value * (1 - 1e-12))


def next_125(value: float) -> float:
    """The next of 1, 2, 5 x 10^k above ``value`` (itself one of them)."""
    return round_up_125(value * 1.01)


def decade_label(power: int) -> str:
    return f"{10.0 ** power:g}" if -3 <= power <= 3 else f"1e{power}"


def decade_ticks(low: int, high: int, labelled: Sequence[int] | None = None) -> list[list[tuple[float, str]]]:
    """Ticks for a log10 axis spanning 10^low..10^high: the decades in ``labelled`` (default: all) labelled,
    the others unlabelled, and 2..9 times each decade as unlabelled minor ticks while every decade is labelled
    (pyqtgraph labels all of them when few decades show, and in a short panel they run into each other)."""
    shown = set(range(low, high + 1) if labelled is None else labelled)
    major = [(float(k), decade_label(k)) for k in range(low, high + 1) if k in shown]
    minor = [(float(k), "") for k in range(low, high + 1) if k not in shown]
    if len(shown) == high - low + 1:
        minor = [(k + math.log10(m), "") for k in range(low, high) for m in range(2, 10)]
    return [major, minor]


def pick_labels(count: int, first_px: float, step_px: float, span_px: float, label_px: float,
                half_px: float) -> list[int]:
    """Which of ``count`` evenly spaced ticks (at ``first_px + i * step_px`` along an axis ``span_px`` long)
    get a label ``label_px`` long along the axis (plus a gap) so that none runs into the next or past the
    axis's ends (``half_px``: half a label; pyqtgraph hides a label that does not fit): every 1st, 2nd, 3rd,
    5th, 10th... one, centred among the ticks that fit."""
    fits = [i for i in range(count) if first_px + i * step_px - half_px >= 0
            and first_px + i * step_px + half_px <= span_px]
    if not fits:
        return []
    every = next((e for e in (1, 2, 3, 5, 10, 20, 50, 100) if step_px * e >= label_px), count)
    first, last = fits[0], fits[-1]
    n = (last - first) // every + 1
    start = first + ((last - first) - (n - 1) * every) // 2
    return [start + m * every for m in range(n)]


def fitted_decade_ticks(plot: pg.PlotItem, low: int, high: int) -> list[list[tuple[float, str]]]:
    """Ticks for ``plot``'s log10 left axis spanning 10^low..10^high (its y range running from low - 0.1 to
    high + 0.1): as many decades labelled as fit its height without running into each other (see
    :func:`pick_labels`)."""
    height = plot.getViewBox().height()
    text = QFontMetrics(plot.getAxis("left").font()).height()
    step = height / (high - low + 0.2)
    shown = pick_labels(high - low + 1, 0.1 * step, step, height, 1.2 * text, 0.5 * text)
    return decade_ticks(low, high, [low + i for i in shown])


class RoomyAxis(pg.AxisItem):
    """An axis whose labelled ticks are at least a label's extent apart.

    pyqtgraph puts at least two or three labelled ticks on any axis, however short: in a histogram cell 100
    pixels wide, "-0.4 -0.2 0 0.2 0.4" ran into each other (a 1024x768 window), and so did "1.0 0.5 0 -0.5 -1.0"
    down a feature-map bar cell 40 pixels high.  Here the labelled spacing grows to the next 1, 2, 5 step until
    its longest label (across a horizontal axis: its width and a gap; along a vertical one: a line's height) fits
    between two ticks, with no minor ticks then (pyqtgraph would label some of them whenever the axis as a whole
    had room: "4 5 6").  An axis with room keeps pyqtgraph's own ticks."""

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> Any:  # noqa: N802, N803 - pyqtgraph's names
        levels = super().tickSpacing(minVal, maxVal, size)
        span = abs(maxVal - minVal)
        if not levels or size <= 0 or span == 0:
            return levels
        metrics = QFontMetrics(self.font())
        if self.orientation in ("top", "bottom"):
            extent, gap = metrics.horizontalAdvance, metrics.averageCharWidth()
        else:
            extent, gap = (lambda _label: metrics.height()), 0  # a line's height already has room above and below
        low, high = min(minVal, maxVal), max(minVal, maxVal)
        major = spacing = float(levels[0][0])
        while spacing < 1e6 * span:
            values = np.arange(math.ceil(low / spacing), math.floor(high / spacing) + 1) * spacing
            labels = self.tickStrings(list(values), self.autoSIPrefixScale * self.scale, spacing)
            # Only the labels that will show: pyqtgraph hides one that would stick out past an end.  When none
            # would show whole (an axis shorter than a line), pyqtgraph draws them all the same, over each other
            # ("-0.0" on "-2.0" down a gradient bar chart 15 pixels high): then every label counts.
            lengths = [extent(label) for label in labels]
            longest = max((length for value, length in zip(values, lengths)
                           if length / 2 <= (value - low) / span * size <= size - length / 2),
                          default=max(lengths, default=0))
            if spacing / span * size >= longest + gap:  # a label and a gap fit
                break
            spacing = next_125(spacing)
        return levels if spacing == major else [(spacing, 0.0)]


class FittedTitleAxis(RoomyAxis):
    """An axis whose title is shortened, or left out, when the axis is too short to show it whole.

    pyqtgraph centres a vertical axis's title on the axis and lets it run past the ends: in a 1024x768 window
    the gradients panel's two stacked titles ("gradient L2 norm", "log10 norm (latest)") ran into each other,
    and the loss plot's title lost its scale ("loss (x1e+23)" showed as "loss (", beside ticks 5, 10, 15 of a
    loss of 1e23).  Here the title is the first that fits of: the whole title, each of its short forms
    (:meth:`set_title`) with the scale, the scale alone.  When not even the scale fits, the ticks drop it and
    show their whole values ("2e+23"), and the title is the first short form that fits, or a blank of the same
    height (so the axis keeps its width and stacked plots stay aligned).  Its tick labels are spaced as a
    :class:`RoomyAxis`'s."""

    MARGIN_PX = 4

    def __init__(self, orientation: str, **kwargs: Any) -> None:
        self.short_titles: tuple[str, ...] = ()  # see set_title
        self._fitting = False
        super().__init__(orientation, **kwargs)

    def set_title(self, text: str, *short_titles: str) -> None:
        """The title, and shorter forms of it from the longest (each without the scale, which is added)."""
        self.short_titles = tuple(short_titles)
        self.setLabel(text)

    def _room(self) -> float:
        size = self.size()
        return (size.height() if self.orientation in ("left", "right") else size.width()) - self.MARGIN_PX

    def _candidates(self) -> list[str]:
        full = super().labelString()
        style = ";".join(f"{k}: {v}" for k, v in self.labelStyle.items())
        scale = ""
        if self.labelUnits == "" and self.autoSIPrefix and self.autoSIPrefixScale != 1.0:
            scale = f"(x{1.0 / self.autoSIPrefixScale:g})"
        forms = [f"{title} {scale}".strip() for title in self.short_titles] + ([scale] if scale else [])
        return [full] + [f"<span style='{style}'>{form}</span>" for form in forms]

    def labelString(self) -> str:  # noqa: N802 - pyqtgraph's name
        return self._fit()

    def _fit(self) -> str:
        """The first candidate that fits, set on the label (measured there, in its own font)."""
        room = self._room()
        for text in self._candidates():
            self.label.setHtml(text)
            if self.label.boundingRect().width() <= room:
                return text
        if self.autoSIPrefixScale != 1.0:  # no room for the scale: the ticks show whole values instead
            self.autoSIPrefixScale = 1.0
            self.labelUnitPrefix = ""
            self.picture = None
            return self._fit()
        self.label.setHtml("&nbsp;")
        return "&nbsp;"

    def resizeEvent(self, ev: Any = None) -> None:  # noqa: N802 - Qt's name
        if self.label is not None and not self._fitting:
            self._fitting = True
            try:
                if self.autoSIPrefix:
                    self.updateAutoSIPrefix()  # the scale again (a title that had no room for it may now)
                else:
                    self._fit()
            finally:
                self._fitting = False
        super().resizeEvent(ev)

    def shown_title(self) -> str:
        """The title as shown now, as plain text."""
        return self.label.toPlainText().strip()


def fitted_plot(view: pg.GraphicsLayoutWidget, row: int | None = None, col: int | None = None,
                bottom: bool = False) -> pg.PlotItem:
    """A plot in ``view`` whose left (and with ``bottom``, bottom) axis fits its title (:class:`FittedTitleAxis`)."""
    axes = {"left": FittedTitleAxis("left")}
    if bottom:
        axes["bottom"] = FittedTitleAxis("bottom")
    return view.addPlot(row=row, col=col, axisItems=axes)


class PanelView(pg.GraphicsLayoutWidget):
    """The plotting area of a panel; it adds up the time its paints take, which the dashboard uses to pace
    the panel's redraws (a panel that costs more is redrawn less often).  Wall time, not CPU time: on a
    machine whose cores are all busy training, a paint also waits for a core, and that wait is the sign
    to draw less often (measured: pacing by CPU time there drew twice as often and cost a fifth of the
    training speed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setBackground("w")
        self.paint_seconds = 0.0
        self.paints = 0

    def refit(self) -> None:
        """Fit the layout to the view again after its items were replaced.  Otherwise it kept the width the old
        items needed, where that was more than the view's (a panel that had shrunk), and the new items ran past
        the view's edge until its next resize."""
        self.ci.setGeometry(self.range)

    def paintEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        started = time.perf_counter()
        super().paintEvent(event)
        self.paint_seconds += time.perf_counter() - started
        self.paints += 1


class _ShadedLabel(pg.LabelItem):
    """A label on a light, mostly opaque ground: a title over a plot stays readable where a curve runs under it."""

    def paint(self, painter: QPainter, *args: Any) -> None:
        painter.fillRect(self.item.mapRectToParent(self.item.boundingRect()).adjusted(2, 3, -2, -3),
                         QColor(255, 255, 255, 165))


class Cell:
    """A titled ViewBox with optional left / bottom axes, laid out in its own small grid."""

    def __init__(self, parent: pg.GraphicsLayout, row: int, col: int, title: str, *, axes: Sequence[str] = (),
                 lock_aspect: bool = False, invert_y: bool = False, colspan: int = 1,
                 title_inside: bool = False) -> None:
        self.layout = parent.addLayout(row=row, col=col, colspan=colspan)
        self.layout.setContentsMargins(2, 2, 2, 2)
        self.layout.setSpacing(0)
        self.title = (_ShadedLabel if title_inside else pg.LabelItem)(title, size=TITLE_SIZE, color="#334155")
        self.view = pg.ViewBox(enableMenu=False, lockAspect=lock_aspect, invertY=invert_y)
        self.view.setMouseEnabled(x=False, y=False)
        self.layout.addItem(self.view, row=1, col=1)
        self._inside_title = title if title_inside else None  # the whole title, shortened to fit the plot
        if title_inside:  # in the plot's top right corner: a title row of its own takes a short cell's height
            self.title.setParentItem(self.view)
            self.title.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-1, -4))
            self.view.sigResized.connect(self._fit_inside_title)
        else:
            self.layout.addItem(self.title, row=0, col=0, colspan=2)
        self.axes: dict[str, pg.AxisItem] = {}
        self.bounds: Any = None  # what fit() last showed
        if "left" in axes:
            self.axes["left"] = RoomyAxis("left", linkView=self.view)
            self.layout.addItem(self.axes["left"], row=1, col=0)
        if "bottom" in axes:
            self.axes["bottom"] = RoomyAxis("bottom", linkView=self.view)
            self.layout.addItem(self.axes["bottom"], row=2, col=1)
        for axis in self.axes.values():
            axis.setPen("#64748B")
            axis.setTextPen("#334155")
            axis.setCacheMode(axis.CacheMode.DeviceCoordinateCache)

    def fit(self, x_range: tuple[float, float], y_range: tuple[float, float], key: Any = None) -> None:
        """Show ``x_range`` x ``y_range``, touching the view (and re-rendering its axes) only when they, or
        ``key`` (e.g. the data's shape), changed since the last call."""
        bounds = (tuple(x_range), tuple(y_range), key)
        if bounds != self.bounds:
            self.bounds = bounds
            self.view.setRange(xRange=x_range, yRange=y_range, padding=0.02)

    def set_title(self, text: str) -> None:
        if self._inside_title is not None:
            self._inside_title = text
            self._fit_inside_title()
        elif self.title.text != text:
            self.title.setText(text)

    def _fit_inside_title(self, *_args: Any) -> None:
        """The title inside the plot, shortened in the middle when it is wider than the plot (a long node id
        lost its start: "..._projection output"), so both ends stay readable."""
        from PySide6.QtGui import QTextDocumentFragment  # noqa: PLC0415

        plain = QTextDocumentFragment.fromHtml(self._inside_title or "").toPlainText()
        metrics = QFontMetrics(QFont(self.title.item.font().family(), int(TITLE_SIZE.removesuffix("pt"))))
        room = max(int(self.view.width()) - 12, 10)
        shown = self._inside_title if metrics.horizontalAdvance(plain) <= room else \
            html.escape(metrics.elidedText(plain, Qt.TextElideMode.ElideMiddle, room))
        if self.title.text != shown:
            self.title.setText(shown)
            self.title.adjustSize()  # a free label keeps its old width otherwise, and its corner moves


class CellTexts(pg.GraphicsObject):
    """Texts centred in the unit cells of a (rows, cols) grid, drawn in one paint at a readable size.

    Cell (r, c) spans [c, c + 1] x [r, r + 1] in view coordinates.  The font follows the cell's size on
    screen (so the counts shrink with the view) and stays upright whatever the view's y direction.
    """

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[list[str]] = []
        self.light: np.ndarray = np.zeros((0, 0), dtype=bool)  # white text on dark cells
        self._shape = (0, 0)

    def set_cells(self, labels: Sequence[Sequence[str]], light: np.ndarray) -> None:
        self.labels = [list(row) for row in labels]
        self.light = np.asarray(light, dtype=bool)
        shape = (len(self.labels), len(self.labels[0]) if self.labels else 0)
        if shape != self._shape:
            self.prepareGeometryChange()
            self._shape = shape
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        rows, cols = self._shape
        return QRectF(0.0, 0.0, float(cols), float(rows))

    def paint(self, painter: QPainter, *args: Any) -> None:
        rows, cols = self._shape
        if not rows or not cols:
            return
        transform = painter.transform()
        origin = transform.map(QPointF(0.0, 0.0))
        corner = transform.map(QPointF(1.0, 1.0))
        cell_w, cell_h = abs(corner.x() - origin.x()), abs(corner.y() - origin.y())
        longest = max((len(t) for row in self.labels for t in row), default=1) or 1
        size = min(cell_h * 0.45, cell_w * 0.8 / (0.6 * longest), 14.0)
        if size < 5.0:  # too small to read: the colours alone say it
            return
        painter.save()
        painter.resetTransform()
        font = QFont(painter.font())
        font.setPixelSize(int(size))
        painter.setFont(font)
        dark, white = QPen(QColor("#1E293B")), QPen(QColor("#FFFFFF"))
        flags = int(Qt.AlignmentFlag.AlignCenter)
        for r, row in enumerate(self.labels):
            for c, text in enumerate(row):
                if not text:
                    continue
                centre = transform.map(QPointF(c + 0.5, r + 0.5))
                painter.setPen(white if self.light[r, c] else dark)
                painter.drawText(QRectF(centre.x() - cell_w / 2, centre.y() - cell_h / 2, cell_w, cell_h), flags, text)
        painter.restore()
