"""Live training panels (pyqtgraph) and the dashboard that feeds and redraws them.

Why this exists: one place routes a training session's signals to every panel and redraws the ones whose
data changed from a single QTimer, so however often reports arrive (the session drains its inbox at ~20 Hz)
each panel draws at most once per drain, only while it has something new and only as often as its cost
allows: each panel may use a small share of the GUI thread (``GUI_SHARE``), measured as it runs, so a slow
machine shows fewer frames rather than a slower run or a sluggish window.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtWidgets import QGraphicsItem

from nnstudio.ui.panels.boundary import BoundaryPanel
from nnstudio.ui.panels.confusion import ConfusionPanel
from nnstudio.ui.panels.curves import CurvesPanel
from nnstudio.ui.panels.export import ExportablePanel
from nnstudio.ui.panels.feature_maps import FeatureMapPanel
from nnstudio.ui.panels.gradients import GradientPanel
from nnstudio.ui.panels.histograms import HistogramPanel
from nnstudio.ui.panels.neuron_view import NeuronViewPanel

__all__ = ["BoundaryPanel", "ConfusionPanel", "CurvesPanel", "Dashboard", "ExportablePanel", "FeatureMapPanel",
           "GradientPanel", "HistogramPanel", "NeuronViewPanel"]

CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache
REDRAW_INTERVAL_MS = 25  # how often the dashboard looks for panels with new data (the session drains at 20 Hz)
# The share of the GUI thread's time each panel may use while it has new data: after a redraw that cost
# c seconds (setting the data plus the paint that followed), the panel's next redraw waits c / share.  A
# fast machine draws the curves at the drain rate; a slow or busy one draws them less often instead of
# taking time from training or from the user's clicks.  The curves and gradients get the larger shares.
GUI_SHARE = {"curves": 0.025, "gradients": 0.02, "feature_maps": 0.015, "histograms": 0.01, "boundary": 0.03,
             "confusion": 0.01, "neurons": 0.02}
# Panels that show a snapshot (a probe, histograms, a boundary grid, a confusion matrix) repaint at most
# this often (seconds) whatever they cost: a few frames a second read as live.
MIN_REDRAW_INTERVAL_S = {"feature_maps": 1.0, "histograms": 2.0, "boundary": 0.2, "confusion": 0.5, "neurons": 0.3}
GRADIENT_HINTS = ("exploding_gradients", "vanishing_gradients", "dead_relu")  # hint kinds the gradient panel shows
COST_SMOOTHING = 0.7  # weight of the past in each panel's cost estimate

# The worker-side view each panel needs (so hidden panels cost the run nothing).
VIEWS = {"gradients": "gradients", "boundary": "boundary", "feature_maps": "probe", "histograms": "histograms", "confusion": "predictions",
         "neurons": "neurons"}


def prepare_paint(panel: Any) -> None:
    """Get ``panel``'s plots ready for the paint that follows a redraw, so one paint shows it.

    * Each plot axis renders into a cached pixmap (Qt's DeviceCoordinateCache).  Without it every repaint of
      a plot replays the axes' tick labels as text, which was most of the GUI thread's time while training
      (profiled); with it an axis is re-rendered only when its ticks change.
    * Layouts waiting to be redone (a title or an axis that changed size) are redone now, and each view box
      settles its range (``ViewBox.prepareForPaint``: the auto-range and the transform that new data changed).
      Qt and pyqtgraph do both lazily: the layout after the paint, the range at the start of the paint, where
      the change makes the axes ask for another paint.  Every redraw of the curves and the gradients was
      painted twice, a few milliseconds apart (measured during a training run: 19 paints for 10 redraws, 13
      for 9 after this; the histograms 5 paints for 2 redraws, 3 after).
    """
    view = getattr(panel, "view", None)
    scene = view.scene() if view is not None else None
    if scene is None:
        return
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    for item in scene.items():
        if isinstance(item, pg.AxisItem):
            if item.cacheMode() != CACHE:
                item.setCacheMode(CACHE)
        elif isinstance(item, pg.ViewBox):
            item.prepareForPaint()


class Dashboard(QObject):
    """Owns the panels, routes session signals to them and redraws dirty ones on a QTimer."""

    def __init__(self, dataset_getter: Callable[[], Any] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.curves = CurvesPanel()
        self.gradients = GradientPanel()
        self.feature_maps = FeatureMapPanel()
        self.histograms = HistogramPanel()
        self.boundary = BoundaryPanel()
        self.confusion = ConfusionPanel(dataset_getter=dataset_getter)
        self.neurons = NeuronViewPanel()
        self.panels: dict[str, ExportablePanel] = {
            "curves": self.curves, "gradients": self.gradients, "feature_maps": self.feature_maps,
            "histograms": self.histograms, "boundary": self.boundary, "confusion": self.confusion,
            "neurons": self.neurons}
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_INTERVAL_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()
        self.redraw_count = 0
        self.redraw_seconds = {name: 0.0 for name in self.panels}  # GUI-thread time per panel (for the bench)
        self.redraws = {name: 0 for name in self.panels}
        self._last_redraw: dict[str, float] = {}
        self._due: dict[str, float] = {}  # earliest time of each panel's next redraw
        self._cost: dict[str, float] = {}  # smoothed seconds per redraw, paint included
        self._pending: dict[str, tuple[float, float]] = {}  # redraw seconds, paint seconds before it

    def wanted_views(self, visible: Callable[[str], bool] | None = None) -> set[str]:
        """The worker-side views for the panels that are visible (all of them when ``visible`` is None)."""
        return {view for name, view in VIEWS.items() if visible is None or visible(name)}

    def connect_session(self, session: Any, continuing: bool = False) -> None:
        self.gradients.clear_hints()  # the previous run's advice does not describe this one

        def started(info: Any) -> None:
            for panel in self.panels.values():
                panel.begin_run(info, continuing)

        session.started.connect(started)
        session.batches.connect(self.curves.add_batches)
        session.batches.connect(self.gradients.add_batches)
        session.batches.connect(self.boundary.add_batches)  # its epoch counter
        session.epoch.connect(self.curves.add_epoch)
        session.epoch.connect(self.confusion.add_epoch)
        session.predictions.connect(self.confusion.set_predictions)
        session.probe.connect(self.feature_maps.set_probe)
        session.histograms.connect(self.histograms.set_histograms)
        session.boundary.connect(self.boundary.set_boundary)
        session.neurons.connect(self.neurons.set_neurons)
        session.hint.connect(self._hint)

    def _hint(self, event: Any) -> None:
        # Only advice about the gradients goes over the gradient plot (the Hints panel lists every hint): the
        # perceptron's "accuracy stopped improving" there read as if the plot showed it.
        if type(event).__name__ == "Hint" and getattr(event, "kind", "") in GRADIENT_HINTS:
            self.gradients.add_hint(event)

    def clear(self) -> None:
        for panel in self.panels.values():
            panel.clear()

    def redraw(self) -> None:
        now = time.perf_counter()
        for name, panel in self.panels.items():
            # isVisible() is False for the hidden tabs of tabbed docks, which is what saves the work;
            # visibleRegion() is not used: window managers report it unreliably for covered windows.
            if not (panel.dirty and panel.isVisible()):
                continue
            self._settle(name, panel)
            if now < self._due.get(name, 0.0):
                continue  # its latest data waits for the panel's next turn
            started = time.perf_counter()  # wall time, as for the paints (see PanelView)
            panel.redraw()
            prepare_paint(panel)
            spent = time.perf_counter() - started
            self._pending[name] = (spent, self._paint_seconds(panel))
            self._last_redraw[name] = now
            self.redraw_seconds[name] += spent
            self.redraws[name] += 1
            self.redraw_count += 1

    @staticmethod
    def _paint_seconds(panel: Any) -> float:
        return float(getattr(getattr(panel, "view", None), "paint_seconds", 0.0))

    def _settle(self, name: str, panel: Any) -> None:
        """Fold the last redraw of ``name`` and the paints since into its cost, and set its next turn (called
        before each decision, so the paint that followed the redraw is counted)."""
        if name not in self._pending:
            return
        spent, painted_before = self._pending.pop(name)
        cost = spent + self._paint_seconds(panel) - painted_before
        # The estimate starts from zero, so the first redraw (which builds the plots) does not hold the next
        # ones back for long.
        self._cost[name] = COST_SMOOTHING * self._cost.get(name, 0.0) + (1.0 - COST_SMOOTHING) * cost
        self._due[name] = self._last_redraw[name] + self.redraw_interval(name)

    def redraw_interval(self, name: str) -> float:
        """Seconds between redraws of panel ``name`` at its current cost (what the pacing allows)."""
        return max(MIN_REDRAW_INTERVAL_S.get(name, 0.0), self._cost.get(name, 0.0) / GUI_SHARE[name])

    def redraw_all(self) -> None:
        """Redraw every dirty panel, visible or not (before a screenshot or an export)."""
        for panel in self.panels.values():
            if panel.dirty:
                panel.redraw()
