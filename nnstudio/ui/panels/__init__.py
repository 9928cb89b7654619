"""Live training panels (pyqtgraph) and the dashboard that feeds and redraws them.

Why this exists: one place routes a training session's signals to every panel and redraws the ones whose
data changed from a single screen-rate QTimer, so however often reports arrive (the session drains its
inbox at ~20 Hz) each panel draws at most once per frame and only while it has something new.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QGraphicsItem

from nnstudio.ui.panels.boundary import BoundaryPanel
from nnstudio.ui.panels.confusion import ConfusionPanel
from nnstudio.ui.panels.curves import CurvesPanel
from nnstudio.ui.panels.export import ExportablePanel
from nnstudio.ui.panels.feature_maps import FeatureMapPanel
from nnstudio.ui.panels.gradients import GradientPanel
from nnstudio.ui.panels.histograms import HistogramPanel

__all__ = ["BoundaryPanel", "ConfusionPanel", "CurvesPanel", "Dashboard", "ExportablePanel", "FeatureMapPanel",
           "GradientPanel", "HistogramPanel"]

CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache
REDRAW_INTERVAL_MS = 16
# Panels that draw many images or plots at once repaint at most this often (seconds): their content is a
# snapshot (a probe, histograms, a boundary grid), so a few frames a second read as live and leave the GUI
# thread free; the curves and gradients keep the full rate.
MIN_REDRAW_INTERVAL_S = {"feature_maps": 0.5, "histograms": 1.0, "boundary": 0.25, "confusion": 0.5}  # screen rate; panels without new data skip the frame

# The worker-side view each panel needs (so hidden panels cost the run nothing).
VIEWS = {"gradients": "gradients", "boundary": "boundary", "feature_maps": "probe", "histograms": "histograms", "confusion": "predictions"}


def cache_axes(panel: Any) -> None:
    """Render each plot axis into a cached pixmap (Qt's DeviceCoordinateCache).

    Without it every repaint of a plot replays the axes' tick labels as text, which was most of the GUI
    thread's time while training (profiled); with it an axis is re-rendered only when its ticks change.
    """
    view = getattr(panel, "view", None)
    scene = view.scene() if view is not None else None
    if scene is None:
        return
    for item in scene.items():
        if isinstance(item, pg.AxisItem) and item.cacheMode() != CACHE:
            item.setCacheMode(CACHE)


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
        self.panels: dict[str, ExportablePanel] = {
            "curves": self.curves, "gradients": self.gradients, "feature_maps": self.feature_maps,
            "histograms": self.histograms, "boundary": self.boundary, "confusion": self.confusion}
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_INTERVAL_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()
        self.redraw_count = 0
        self._last_redraw: dict[str, float] = {}
        self.redraw_seconds = {name: 0.0 for name in self.panels}  # GUI-thread time per panel (for the bench)

    def wanted_views(self, visible: Callable[[str], bool] | None = None) -> set[str]:
        """The worker-side views for the panels that are visible (all of them when ``visible`` is None)."""
        return {view for name, view in VIEWS.items() if visible is None or visible(name)}

    def connect_session(self, session: Any, continuing: bool = False) -> None:
        def started(info: Any) -> None:
            for panel in self.panels.values():
                panel.begin_run(info, continuing)

        session.started.connect(started)
        session.batches.connect(self.curves.add_batches)
        session.batches.connect(self.gradients.add_batches)
        session.epoch.connect(self.curves.add_epoch)
        session.epoch.connect(self.confusion.add_epoch)
        session.predictions.connect(self.confusion.set_predictions)
        session.probe.connect(self.feature_maps.set_probe)
        session.histograms.connect(self.histograms.set_histograms)
        session.boundary.connect(self.boundary.set_boundary)
        session.hint.connect(self._hint)

    def _hint(self, event: Any) -> None:
        if type(event).__name__ == "Hint":
            self.gradients.add_hint(event)

    def clear(self) -> None:
        for panel in self.panels.values():
            panel.clear()

    def redraw(self) -> None:
        now = time.perf_counter()
        for name, panel in self.panels.items():
            # isVisible() is False for the hidden tabs of tabbed docks, which is what saves the work;
            # visibleRegion() is not used: window managers report it unreliably for covered windows.
            if panel.dirty and panel.isVisible():
                if now - self._last_redraw.get(name, -1e9) < MIN_REDRAW_INTERVAL_S.get(name, 0.0):
                    continue  # a heavy panel: its latest data waits for the next allowed frame
                self._last_redraw[name] = now
                started = time.perf_counter()
                panel.redraw()
                cache_axes(panel)
                self.redraw_seconds[name] += time.perf_counter() - started
                self.redraw_count += 1

    def redraw_all(self) -> None:
        """Redraw every dirty panel, visible or not (before a screenshot or an export)."""
        for panel in self.panels.values():
            if panel.dirty:
                panel.redraw()
