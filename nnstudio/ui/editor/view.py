"""The window onto the canvas: zoom around the cursor, pan (middle button or space + drag), rubber-band
selection, a dotted grid, dropping blocks from the palette, right-click menus (``context_menu.py``), and a
label explaining refused wires (while a wire is dragged over a port that refuses it, and after a refusal).
"""
from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QContextMenuEvent, QKeyEvent, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsView, QLabel, QToolTip

from nnstudio.ui.editor.context_menu import build_context_menu
from nnstudio.ui.editor.scene import GRID, EditorScene

BLOCK_MIME = "application/x-nnstudio-block"
BACKGROUND = QColor("#1A1D23")
GRID_MINOR = QColor("#23272F")
GRID_MAJOR = QColor("#2C313B")
MIN_ZOOM, MAX_ZOOM = 0.08, 3.0
FIT_MIN_ZOOM = 0.6  # "Fit to view" never shrinks node text below this (about 7-pixel letters): it scrolls instead


class EditorView(QGraphicsView):
    """Shows an :class:`EditorScene`; emits ``block_dropped(type, scene_pos)`` for palette drops."""

    block_dropped = Signal(str, QPointF)
    zoom_changed = Signal(float)
    help_requested = Signal(str)  # a node's "Help for ..." menu entry: the node id

    def __init__(self, scene: EditorScene, parent: Any = None) -> None:
        super().__init__(scene, parent)
        self.ui_scale = 1.0  # presentation mode (ui/presentation.py): "Actual size" and the fit limits grow with it
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setBackgroundBrush(BACKGROUND)
        self._panning = False
        self._pan_last = QPoint()
        self._space_down = False
        self._notice = QLabel(self.viewport())
        self._notice.setObjectName("wireNotice")
        self._notice.setWordWrap(True)
        self._notice.setMaximumWidth(420)
        self._notice.setStyleSheet("QLabel#wireNotice { background: #3A1F24; color: #FFD7D7; border: 1px solid "
                                   "#F05454; border-radius: 6px; padding: 6px 10px; }")
        self._notice.hide()
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(self._notice.hide)
        scene.wire_refused.connect(self.show_refusal)
        scene.wire_hint.connect(self.show_wire_hint)
        self.last_menu: Any = None  # the last right-click menu (kept so it outlives exec, and for tests)
        self.auto_fit = False  # True from a fit until the person zooms or pans: resizes fit again
        self._fitting = False
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.sliderMoved.connect(self._scrolled_by_hand)

    @property
    def editor_scene(self) -> EditorScene:
        scene = self.scene()
        assert isinstance(scene, EditorScene)
        return scene

    # -- zoom and fit ---------------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, around: QPoint | None = None) -> None:
        """Scale the view, keeping the scene point under ``around`` (viewport pixels; default centre) fixed."""
        if not self._fitting:
            self.auto_fit = False  # the person chose this zoom: a resize keeps it
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        factor = target / self.zoom()
        if abs(factor - 1.0) <= 1e-9:
            return
        anchor = around if around is not None else self.viewport().rect().center()
        fixed = self.mapToScene(anchor)
        self.scale(factor, factor)
        drift = self.mapToScene(anchor) - fixed
        centre = self.mapToScene(self.viewport().rect().center())
        self.centerOn(centre - drift)
        self.zoom_changed.emit(self.zoom())

    def reset_zoom(self) -> None:
        self.zoom_by(self.ui_scale / self.zoom())

    def fit_all(self) -> None:
        """Show the whole network (or, too big to read whole, its start); later resizes of the view fit it
        again until the person zooms or pans (docks that open or close after a project opens would otherwise
        leave its top or left cut off)."""
        self._fitting = True
        try:
            self._fit_all()
        finally:
            self._fitting = False
        self.auto_fit = True

    def _scrolled_by_hand(self, _value: int) -> None:
        self.auto_fit = False

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if getattr(self, "auto_fit", False):
            self.fit_all()

    def _fit_all(self) -> None:
        rect = self.editor_scene.nodes_rect()
        if rect.isNull():
            self.resetTransform()
            self.centerOn(0, 0)
            return
        rect = rect.adjusted(-70, -50, 70, 50)  # room for wire bends and labels
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.25 * self.ui_scale:
            self.zoom_by(1.25 * self.ui_scale / self.zoom())
        elif self.zoom() < FIT_MIN_ZOOM * self.ui_scale:
            # Too big to fit readably: keep the text readable and show where the network starts.
            self.zoom_by(FIT_MIN_ZOOM * self.ui_scale / self.zoom())
            visible = self.mapToScene(self.viewport().rect()).boundingRect()
            self.centerOn(rect.left() + visible.width() / 2, rect.top() + visible.height() / 2)
            self.zoom_changed.emit(self.zoom())
            return
        self.centerOn(rect.center())
        self.zoom_changed.emit(self.zoom())

    def centre_on_node(self, node_id: str) -> None:
        item = self.editor_scene.node_items.get(node_id)
        if item is not None:
            self.centerOn(item.sceneBoundingRect().center())

    def visible_centre(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(math.pow(1.15, steps), event.position().toPoint())
        event.accept()

    # -- background grid ------------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        painter.fillRect(rect, BACKGROUND)
        step = GRID if self.zoom() >= 0.5 else GRID * 5
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        lines_minor, lines_major = [], []
        x = left
        while x < rect.right():
            (lines_major if round(x / (GRID * 5)) * GRID * 5 == x else lines_minor).append(
                (QPointF(x, rect.top()), QPointF(x, rect.bottom())))
            x += step
        y = top
        while y < rect.bottom():
            (lines_major if round(y / (GRID * 5)) * GRID * 5 == y else lines_minor).append(
                (QPointF(rect.left(), y), QPointF(rect.right(), y)))
            y += step
        painter.setPen(QPen(GRID_MINOR, 0))
        for a, b in lines_minor:
            painter.drawLine(a, b)
        painter.setPen(QPen(GRID_MAJOR, 0))
        for a, b in lines_major:
            painter.drawLine(a, b)

    # -- panning --------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space_down):
            self._panning = True
            self._pan_last = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._panning:
            pos = event.position().toPoint()
            delta = pos - self._pan_last
            self._pan_last = pos
            self.pan_by(delta.x(), delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def pan_by(self, dx_pixels: float, dy_pixels: float) -> None:
        """Move the view so the content follows the mouse by the given pixels."""
        self.auto_fit = False
        centre = self.mapToScene(self.viewport().rect().center())
        self.centerOn(centre - QPointF(dx_pixels, dy_pixels) / self.zoom())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._panning and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._panning = False
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space_down
                                      else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        steps = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1),
                 Qt.Key.Key_Down: (0, 1)}
        if event.key() in steps and self.editor_scene.selected_node_ids():
            dx, dy = steps[event.key()]
            size = 1.0 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else GRID
            self.editor_scene.nudge_selection(dx * size, dy * size)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            if not self._panning:
                self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # -- drops from the palette -----------------------------------------------------------------------
    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasFormat(BLOCK_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasFormat(BLOCK_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        mime = event.mimeData()
        if mime.hasFormat(BLOCK_MIME):
            block_type = bytes(mime.data(BLOCK_MIME).data()).decode("utf-8")
            scene_pos = self.mapToScene(event.position().toPoint())
            event.acceptProposedAction()
            self.block_dropped.emit(block_type, scene_pos)
            return
        super().dropEvent(event)

    # -- right-click menus ----------------------------------------------------------------------------
    def context_menu(self, view_pos: QPoint) -> Any:
        """The menu for what lies under ``view_pos``: a node, a wire or the empty canvas (not shown)."""
        self.last_menu = build_context_menu(self, view_pos)
        return self.last_menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802
        if self._panning:
            return
        menu = self.context_menu(event.pos())
        event.accept()
        self.exec_menu(menu, event.globalPos())

    def exec_menu(self, menu: Any, global_pos: QPoint) -> None:
        """Show ``menu`` at ``global_pos`` until it closes (a seam for tests, which must not block)."""
        menu.exec(global_pos)

    # -- refused wires --------------------------------------------------------------------------------
    def show_refusal(self, reason: str, scene_pos: QPointF) -> None:
        self._notice.setText("✖  " + reason)
        self._notice.adjustSize()
        where = self.mapFromScene(scene_pos) + QPoint(14, 14)
        limit = self.viewport().rect()
        x = max(4, min(where.x(), limit.width() - self._notice.width() - 4))
        y = max(4, min(where.y(), limit.height() - self._notice.height() - 4))
        self._notice.move(x, y)
        self._notice.show()
        self._notice.raise_()
        self._notice_timer.start(3500)
        QToolTip.showText(self.viewport().mapToGlobal(where), reason, self.viewport())

    def show_wire_hint(self, reason: str, scene_pos: QPointF) -> None:
        """While a wire is dragged: the reason a port would refuse it beside the cursor ("" hides it)."""
        if not reason:
            if not self._notice_timer.isActive():  # a refusal being shown stays for its time
                self._notice.hide()
            return
        self._notice_timer.stop()
        self._notice.setText("✖  " + reason)
        self._notice.adjustSize()
        where = self.mapFromScene(scene_pos) + QPoint(14, 14)
        limit = self.viewport().rect()
        self._notice.move(max(4, min(where.x(), limit.width() - self._notice.width() - 4)),
                          max(4, min(where.y(), limit.height() - self._notice.height() - 4)))
        self._notice.show()
        self._notice.raise_()

    def notice_text(self) -> str:
        """The refusal currently shown over the canvas ("" when none)."""
        return self._notice.text() if self._notice.isVisible() else ""
