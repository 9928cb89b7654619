"""The main window: menus, toolbar, status bar, the dockable editor panels and the project's life cycle
(new, open, save, autosave and recovery, closing with unsaved changes).

The window owns one :class:`QUndoStack` and one :class:`EditorScene`; the open project's graph document is
the single source of truth that every panel views.  Other parts of the app extend the window through
``add_dock``, ``train_menu``, ``export_menu``, the ``project`` / ``graph`` attributes and the
``graph_changed`` / ``project_opened`` signals.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QByteArray, QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QUndoStack
from PySide6.QtWidgets import (QApplication, QDialog, QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu,
                               QMessageBox, QScrollArea, QStackedWidget, QToolBar, QUndoView, QVBoxLayout,
                               QWidget)

from nnstudio.errors import UserError
from nnstudio.graph.catalogue import BLOCKS
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import PROJECT_SUFFIX, Project, load_project, save_project
from nnstudio.ui import recovery
from nnstudio.ui.editor.inspector import InspectorWidget
from nnstudio.ui.editor.palette import PaletteWidget
from nnstudio.ui.editor.problems import ProblemsWidget, count_text
from nnstudio.ui.editor.scene import EditorScene, layout_positions
from nnstudio.ui.editor.view import EditorView
from nnstudio.ui.i18n import pick, tr
from nnstudio.ui.icons import app_icon, icon
from nnstudio.ui.settings import add_recent_project, bool_value, make_settings, recent_projects
from nnstudio.ui.start_page import StartPage, chapter_title, list_examples

PROJECT_FILTER = "NN Studio project (*.nnproj *.json);;All files (*)"
STATE_VERSION = 1
FIRST_SIZE = (1440, 900)  # a first start's window, where the screen has room for it
FRAME_ROOM = (16, 48)  # what a window manager's frame and title bar add around the window, about
DOCK_MIN_WIDTH, DOCK_MIN_HEIGHT = 200, 80  # the most a dock's content may ask for as its minimum

Area = Qt.DockWidgetArea


def shown_name(project: Project) -> str:
    """The project's name in the interface's language (examples carry a Chinese name too)."""
    if project.name == "Untitled" and not project.name_zh:
        return tr("Untitled")  # the name a new project gets (graph.project_file.Project)
    return pick(project.name, project.name_zh)


class MainWindow(QMainWindow):
    graph_changed = Signal(object)      # the GraphEvent
    project_opened = Signal(object)     # the Project
    draw_digit_requested = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        from nnstudio.ui.app import apply_theme
        apply_theme()
        self.setObjectName("MainWindow")
        self.setWindowIcon(app_icon())
        self.settings = make_settings()
        self.project: Project | None = None
        self.docks: dict[str, QDockWidget] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_settings: Callable[[], None] | None = None
        self._layout_restored = False
        self._layout_before_start: QByteArray | None = None  # the panels' layout while the start page hides them

        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        self.scene = EditorScene(Graph(), self.undo_stack, self)
        self.scene.snap_enabled = bool_value(self.settings, "editor/snap", True)
        self.view = EditorView(self.scene)
        self.start_page = StartPage()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start_page)
        self.stack.addWidget(self.view)
        self.setCentralWidget(self.stack)
        self.stack.setMinimumSize(320, 180)  # the canvas scrolls and zooms: it never needs to grow the window

        self.palette = PaletteWidget()
        self.inspector = InspectorWidget(self.scene)
        self.problems = ProblemsWidget()
        self.undo_view = QUndoView(self.undo_stack)
        self.undo_view.setEmptyLabel(tr("<original>"))

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.add_dock(self.palette, tr("Blocks"), Area.LeftDockWidgetArea, "palette")
        self.add_dock(self.inspector, tr("Inspector"), Area.RightDockWidgetArea, "inspector")
        self.add_dock(self.problems, tr("Problems"), Area.BottomDockWidgetArea, "problems")
        self.add_dock(self.undo_view, tr("History"), Area.RightDockWidgetArea, "history")
        self.tabifyDockWidget(self.docks["inspector"], self.docks["history"])
        self.docks["inspector"].raise_()
        self.resizeDocks([self.docks["palette"], self.docks["inspector"]], [250, 340], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["problems"]], [110], Qt.Orientation.Vertical)
        self._connect()
        self.autosaver = recovery.Autosaver(lambda: self.project, self.is_modified, parent=self,
                                            status_bar=self.statusBar())  # failures stay shown there
        self.resize(*FIRST_SIZE)
        self._install_extensions()
        self._first_size()  # after the panels are in: while they were added the window grew to hold them all
        self._default_state = self.saveState(STATE_VERSION)  # what View > Reset layout goes back to
        self.restore_layout()
        from nnstudio.ui.wheel_guard import install_wheel_guard
        install_wheel_guard()
        from nnstudio.ui.i18n.live import install_live_language
        install_live_language(self)  # a language chosen in Preferences applies at once
        self.last_error = ""
        self._show_start_page()
        self._set_editing_enabled(False)
        self._report_changed(self.scene.report)
        QTimer.singleShot(0, self, self._show_backend)  # with a context: dropped if the window goes first

    # ------------------------------------------------------------------------------------------------
    # extension points
    # ------------------------------------------------------------------------------------------------
    @property
    def graph(self) -> Graph | None:
        return self.project.graph if self.project is not None else None

    def add_dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea = Area.RightDockWidgetArea,
                 name: str | None = None, scroll: bool = False) -> QDockWidget:
        """Add a dockable panel (remembered in the window layout) with an entry in View > Panels.

        ``scroll``: the panel scrolls inside its dock instead of asking for its full size, so a large panel
        (the drawing canvas) never makes the window grow past the screen."""
        name = name or title.lower().replace(" ", "_")
        if scroll:
            area_widget = QScrollArea()
            area_widget.setWidget(widget)
            area_widget.setWidgetResizable(True)
            area_widget.setFrameShape(QScrollArea.Shape.NoFrame)
            area_widget.setMinimumSize(160, 80)
            widget = area_widget
        # However much a panel would like, its dock can be made small: the window never grows past the screen
        # (a panel with its own explicit minimum, like the plots, keeps it).
        if widget.minimumSize().isNull():
            hint = widget.minimumSizeHint()
            widget.setMinimumSize(min(max(hint.width(), 0), DOCK_MIN_WIDTH), min(max(hint.height(), 0), DOCK_MIN_HEIGHT))
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        self.docks[name] = dock
        dock.visibilityChanged.connect(self._schedule_tab_cleanup)  # a raised tab can bring a leftover back
        self.panels_menu.addAction(dock.toggleViewAction())
        if self._layout_restored:
            self.restoreDockWidget(dock)
        return dock

    def _install_extensions(self) -> None:
        """Training, the digit canvas, teaching panels and export/import: each adds its own docks and menus."""
        from nnstudio.ui.captcha_panel import CaptchaPanel
        from nnstudio.ui.digit_panel import DigitPanel
        from nnstudio.ui.download_dialog import install_downloads
        from nnstudio.ui.interop_actions import install_interop
        from nnstudio.ui.runs_dock import install_runs
        from nnstudio.ui.lesson_card import install_lessons
        from nnstudio.ui.presentation import install_presentation
        from nnstudio.ui.explain_view import install_sample_explainer
        from nnstudio.ui.profile_dock import install_profile
        from nnstudio.ui.teaching_controller import install_teaching
        from nnstudio.ui.training_controller import install_training

        self.training = install_training(self)
        self.teaching = install_teaching(self)  # after training: it listens to the run's hints
        install_interop(self, self.training)
        install_downloads(self)
        self.runs = install_runs(self, self.training)  # after training: it keeps each run in the history
        install_lessons(self)  # after training: the lesson's check listens to the runs
        self.profile = install_profile(self)  # View > Layer costs: badges on the cards and a table
        install_sample_explainer(self)  # the confusion matrix's samples: "Show why"
        self.start_page.download_requested.connect(self.downloads.start)  # a gallery tile's Download button
        self.downloads.done.connect(self.start_page.refresh_after_download)
        self.digit_panel = DigitPanel()
        digit_dock = self.add_dock(self.digit_panel, tr("Draw a digit"), Area.RightDockWidgetArea, "draw_digit",
                                   scroll=True)
        digit_dock.hide()
        self.captcha_panel = CaptchaPanel()
        captcha_dock = self.add_dock(self.captcha_panel, tr("Captcha"), Area.RightDockWidgetArea, "captcha",
                                     scroll=True)
        captcha_dock.hide()
        self.draw_digit_requested.connect(self.show_digit_canvas)
        # View > Panels > Draw a digit as well: a plain show put the page in the right-hand column, squeezed
        digit_dock.toggleViewAction().triggered.connect(lambda checked: checked and self.show_digit_canvas())
        self.digit_panel.input_changed.connect(self._drawing_changed)
        self.training.weights_changed.connect(self._update_title)
        self.training.weights_changed.connect(self._follow_project_model)
        self.training.live_weights.connect(self._live_weights)
        self.training.run_starting.connect(self._run_starting)
        self._canvas_follows = False  # whether the canvas reads with the open project's network
        self._live_tried = False
        install_presentation(self)  # last: the remembered interface scale reaches every panel made above

    def _follow_project_model(self, weights: Any = None) -> None:
        """The canvas reads with the open project's network when it is a trained classifier of 28 x 28
        drawings (``weights``, else the project's trained weights), and with the built-in model otherwise;
        its model line says which."""
        from nnstudio.graph.compile import compile_graph
        from nnstudio.predictor import is_digit_model
        project = self.project
        weights = weights if weights is not None else self.training.weights
        model = None
        if project is not None and weights is not None:
            try:
                candidate = compile_graph(project.graph, "numpy", seed=0)
                candidate.load_state_dict(weights, source=tr("the trained weights"))
                model = candidate if is_digit_model(candidate) else None
            except UserError:
                model = None
        try:
            if model is not None:
                names = [str(i) for i in range(int(model.output_shape[0]))]
                self.digit_panel.set_model(model, name=tr("{name} (this project)", name=shown_name(project)),
                                           class_names=names)
                self._canvas_follows = True
            elif self._canvas_follows or self.digit_panel.predictor is None:
                self.digit_panel.set_model(None)
                self._canvas_follows = False
        except UserError as exc:
            self.statusBar().showMessage(str(exc), 8000)
            self._canvas_follows = False

    def _live_weights(self, snapshot: Any) -> None:
        """While the open project trains, the canvas follows its weights epoch by epoch (a fresh run of a
        digit classifier starts being followed after its first epoch)."""
        if self._canvas_follows:
            self.digit_panel.set_weights(snapshot.weights)
        elif not self._live_tried:
            self._live_tried = True
            self._follow_project_model(snapshot.weights)

    def _run_starting(self, _continuing: bool) -> None:
        self._live_tried = False

    def show_digit_canvas(self) -> None:
        dock = self.docks["draw_digit"]
        dock.show()
        dock.raise_()
        self._give_digit_page_room(dock)
        self.digit_panel.canvas.setFocus()

    def _give_digit_page_room(self, dock: QDockWidget) -> None:
        """The page (canvas, verdict, bars and why map side by side) needs about 880 x 450 pixels; docked in the
        right column under the inspector and training panels it got about 340 x 110 (at 1024 x 768 and at
        1920 x 1080 alike), the canvas, the verdict and the map scrolled out of sight. Then it opens as its own
        window of the size it needs, over this one and on its screen (double-click its title to dock it back)."""
        if dock.isFloating():
            return
        self.layout().activate()
        self.digit_panel.ensurePolished()
        self.digit_panel.layout().activate()
        need = self.digit_panel.minimumSizeHint()
        if dock.height() >= need.height() and dock.width() >= need.width() * 2 // 3:
            return
        screen = (self.screen() or QApplication.primaryScreen()).availableGeometry()
        dock.setFloating(True)
        self.layout().activate()
        # The dock's title bar and its scroll area's frame come on top of what the page itself needs
        area = dock.widget()
        viewport = area.viewport().size() if isinstance(area, QScrollArea) else area.size()
        extra = dock.size() - viewport
        frame = dock.frameGeometry().size() - dock.geometry().size()
        width = min(need.width() + extra.width(), screen.width() - frame.width())
        height = min(need.height() + extra.height(), screen.height() - frame.height())
        dock.resize(width, height)
        centre = self.frameGeometry().center()
        frame = dock.frameGeometry().size() - dock.geometry().size()  # known now that it is a window
        x = max(screen.left(), min(centre.x() - width // 2, screen.left() + screen.width() - width - frame.width()))
        y = max(screen.top(), min(centre.y() - height // 2, screen.top() + screen.height() - height - frame.height()))
        dock.move(x, y)

    def _drawing_changed(self, image: Any) -> None:
        """The feature-map panel follows the drawing (an all-zero image means the canvas was cleared):
        during a run through the worker's probe, otherwise from the canvas's own model, as you draw."""
        sample = image.reshape(1, 28, 28) if image is not None and image.any() else None
        self.training.set_probe_drawing(sample)
        if sample is None or self.training.is_training:
            return
        from nnstudio.ui.worker import Probe
        predictor = getattr(self.digit_panel, "_predictor", None)
        model = getattr(predictor, "model", None)
        if model is None:
            return
        activations, kinds = {}, {}
        for nid, value in self.digit_panel.activations_for_drawing().items():
            kind = getattr(model.layer(nid), "type_name", "")
            if kind in ("Conv2D", "Pool2D", "Dense") or nid == model.output_id:
                activations[nid], kinds[nid] = np.asarray(value, dtype=np.float32), kind
        if activations:
            panel = self.training.dashboard.feature_maps
            why = self.digit_panel.explanation  # the canvas's own map of the drawing, shown beside its input
            panel.set_probe(Probe(0, activations, kinds, sample, why.last_map,
                                  why.method if why.last_map is not None else ""))
            panel.source_label.setText(self.digit_panel.model_label.text())  # which model these maps are of

    # ------------------------------------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------------------------------------
    def _action(self, text: str, slot: Callable[..., Any], shortcut: Any = None, icon_name: str = "",
                tip: str = "") -> QAction:
        action = QAction(icon(icon_name) if icon_name else QIcon(), text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        S = QKeySequence.StandardKey
        self.act_new = self._action(tr("&New"), self.new_project, S.New, "new", tr("Start an empty project"))
        self.act_open = self._action(tr("&Open…"), self.open_project, S.Open, "open", tr("Open a project file"))
        self.act_save = self._action(tr("&Save"), self.save, S.Save, "save", tr("Save the project"))
        self.act_save_as = self._action(tr("Save &as…"), self.save_as, S.SaveAs)
        self.act_import = self._action(tr("&Import graph…"), self.import_graph, None, "",
                                       tr("Add the network of another project file to this one"))
        self.act_export_json = self._action(tr("Graph as JSON…"), self.export_graph_json)
        self.act_quit = self._action(tr("&Quit"), self.close, S.Quit)

        self.act_undo = self.undo_stack.createUndoAction(self, tr("&Undo"))
        self.act_undo.setShortcuts([QKeySequence(S.Undo)])
        self.act_undo.setIcon(icon("undo"))
        self.act_redo = self.undo_stack.createRedoAction(self, tr("&Redo"))
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_redo.setIcon(icon("redo"))
        for action in (self.act_undo, self.act_redo):
            self.addAction(action)
        self.act_cut = self._action(tr("Cu&t"), self.scene.cut_selection, S.Cut, "cut")
        self.act_copy = self._action(tr("&Copy"), self.scene.copy_selection, S.Copy, "copy")
        self.act_paste = self._action(tr("&Paste"), self._paste, S.Paste, "paste")
        self.act_duplicate = self._action(tr("D&uplicate"), self._duplicate, "Ctrl+D")
        self.act_delete = self._action(tr("&Delete"), self.scene.delete_selection, [S.Delete, "Backspace"],
                                       "delete")
        self.act_select_all = self._action(tr("Select &all"), self.scene.select_all, S.SelectAll)
        self.act_layout = self._action(tr("Auto-&layout"), self.scene.auto_layout, "Ctrl+L", "layout",
                                       tr("Arrange the blocks in layers from left to right"))
        # Keys that also mean something in text fields only act while the canvas has focus.
        for action in (self.act_delete,):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.view.addAction(action)
            self.removeAction(action)

        self.act_fit = self._action(tr("&Fit to view"), self.view.fit_all, "F", "fit")
        self.act_fit.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.view.addAction(self.act_fit)
        self.removeAction(self.act_fit)
        self.act_zoom_in = self._action(tr("Zoom &in"), lambda: self.view.zoom_by(1.25), S.ZoomIn, "zoom_in")
        self.act_zoom_out = self._action(tr("Zoom &out"), lambda: self.view.zoom_by(0.8), S.ZoomOut, "zoom_out")
        self.act_zoom_reset = self._action(tr("&Actual size"), self.view.reset_zoom, "Ctrl+0")
        self.act_snap = self._action(tr("&Snap to grid"), self._toggle_snap)
        self.act_snap.setCheckable(True)
        self.act_snap.setChecked(self.scene.snap_enabled)
        self.act_start_page = self._action(tr("Start &page"), self._show_start_page)
        self.act_reset_layout = self._action(tr("&Reset layout"), self.reset_layout, None, "",
                                             tr("Put every panel back where it started, sized for this window"))
        self.act_block_help = self._action(tr("&Block help"), self.show_block_help, S.HelpContents, "help")
        self.act_about = self._action(tr("&About NN Studio"), self.show_about)
        self.act_draw = self._action(tr("Draw a &digit…"), self.draw_digit_requested.emit, None, "draw")
        self._editing_actions = [self.act_save, self.act_save_as, self.act_import, self.act_export_json,
                                 self.act_cut, self.act_copy, self.act_paste, self.act_duplicate,
                                 self.act_delete, self.act_select_all, self.act_layout, self.act_fit]

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu(tr("&File"))
        self.file_menu.addAction(self.act_new)
        self.examples_menu = self.file_menu.addMenu(icon("example"), tr("New from &example"))
        self.examples_menu.aboutToShow.connect(self._fill_examples_menu)
        self.file_menu.addAction(self.act_open)
        self.recent_menu = self.file_menu.addMenu(tr("Open &recent"))
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.act_save)
        self.file_menu.addAction(self.act_save_as)
        self.file_menu.addSeparator()
        self.import_menu = self.file_menu.addMenu(tr("&Import"))
        self.import_menu.addAction(self.act_import)
        self.export_menu = self.file_menu.addMenu(tr("&Export"))
        self.export_menu.addAction(self.act_export_json)
        self.file_menu.addSeparator()
        self.file_menu.addAction(self.act_quit)

        self.edit_menu = bar.addMenu(tr("&Edit"))
        for action in (self.act_undo, self.act_redo, None, self.act_cut, self.act_copy, self.act_paste,
                       self.act_duplicate, self.act_delete, None, self.act_select_all, self.act_layout):
            self.edit_menu.addSeparator() if action is None else self.edit_menu.addAction(action)

        self.view_menu = bar.addMenu(tr("&View"))
        self.panels_menu = self.view_menu.addMenu(tr("&Panels"))
        self.view_menu.addSeparator()
        for action in (self.act_zoom_in, self.act_zoom_out, self.act_zoom_reset, self.act_fit, None,
                       self.act_snap, self.act_start_page, self.act_reset_layout):
            self.view_menu.addSeparator() if action is None else self.view_menu.addAction(action)

        self.train_menu: QMenu = bar.addMenu(tr("&Train"))
        self.train_menu.addAction(self.act_draw)

        self.help_menu = bar.addMenu(tr("&Help"))
        self.help_menu.addAction(self.act_block_help)
        self.help_menu.addAction(self.act_about)

    def _build_toolbar(self) -> None:
        self.toolbar = QToolBar(tr("Main toolbar"))
        self.toolbar.setObjectName("mainToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setIconSize(QSize(20, 20))  # two toolbar rows (this and the run bar) fit a 768-pixel screen
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        for action in (self.act_new, self.act_open, self.act_save, None, self.act_undo, self.act_redo, None,
                       self.act_cut, self.act_copy, self.act_paste, self.act_delete, None, self.act_layout,
                       self.act_fit, self.act_zoom_in, self.act_zoom_out):
            self.toolbar.addSeparator() if action is None else self.toolbar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.problems_label = QLabel()
        self.params_label = QLabel()
        self.backend_label = QLabel()
        for label in (self.problems_label, self.params_label, self.backend_label):
            label.setObjectName("statusField")
            bar.addPermanentWidget(label)

    def _connect(self) -> None:
        self.undo_stack.cleanChanged.connect(self._update_title)
        self.undo_stack.indexChanged.connect(self._update_title)
        self.scene.report_changed.connect(self._report_changed)
        self.scene.status_message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.view.block_dropped.connect(self._add_block_at)
        self.view.help_requested.connect(self.show_block_help)
        self.palette.block_activated.connect(lambda t: self._add_block_at(t, self.view.visible_centre()))
        self.problems.node_activated.connect(self.focus_node)
        self.scene.selectionChanged.connect(self._show_inspector_for_selection)
        self.start_page.new_requested.connect(self.new_project)
        self.start_page.open_requested.connect(self.open_project)
        self.start_page.open_path_requested.connect(self.open_project)
        self.start_page.example_requested.connect(self.open_example)
        self.start_page.draw_digit_requested.connect(self.draw_digit_requested.emit)

    def _show_inspector_for_selection(self) -> None:
        """A block selected while the Inspector is a tab behind History, the Training panel (a short window) or
        the run scrubber: the Inspector comes to the front, with the block's parameters.  Not from behind a
        teaching panel (Step through, Gradient check select the blocks they speak about) or anything else."""
        dock = self.docks.get("inspector")
        if dock is None or dock.isHidden() or dock.isFloating() or not self.scene.selected_node_ids():
            return
        if not dock.visibleRegion().isEmpty():
            return
        front = next((d for d in self.tabifiedDockWidgets(dock) if not d.visibleRegion().isEmpty()), None)
        if front is not None and front in [self.docks.get(name) for name in ("history", "training", "scrub")]:
            dock.raise_()

    # ------------------------------------------------------------------------------------------------
    # state shown in the chrome
    # ------------------------------------------------------------------------------------------------
    def is_modified(self) -> bool:
        """Unsaved edits of the network or its settings, or trained weights not yet saved with it."""
        if self.project is None:
            return False
        training = getattr(self, "training", None)
        return not self.undo_stack.isClean() or (training is not None and training.has_unsaved_weights())

    def _update_title(self, *_: Any) -> None:
        if self.project is None:
            self.setWindowTitle("NN Studio")
            self.setWindowModified(False)
            return
        name = self.project.path.name if self.project.path else tr("{name} (unsaved)", name=shown_name(self.project))
        self.setWindowTitle(f"{name}[*] — NN Studio")
        self.setWindowModified(self.is_modified())

    def _report_changed(self, report: Any) -> None:
        if self.project is None:
            self.problems.clear()
            self.problems_label.setText("")
            self.params_label.setText("")
            return
        self.problems.set_report(report)
        errors = sum(m.severity == "error" for m in report.messages)
        warnings = sum(m.severity == "warning" for m in report.messages)
        self.params_label.setText(tr("Parameters: {count}", count=f"{report.total_params:,}"))
        self.params_label.setToolTip(f"{report.total_params:,}")
        self.problems_label.setText(count_text(errors, warnings))

    def _show_backend(self) -> None:
        try:
            from nnstudio.engine.backend import blas_threads, get_backend, shown_name
            backend = get_backend()
            text, tip = shown_name(backend), ""  # the library's name stays; the rest follows the language
            if backend.name == "numpy":
                from nnstudio.engine import threads as engine_threads  # (not candidates(): no BLAS scan at start)
                tip = tr("Training steps and predictions use as many of these threads as is fastest: the engine "
                         "times them and uses fewer when another program keeps the computer busy. Set "
                         "OMP_NUM_THREADS to fix the number.") if not engine_threads.fixed_by_environment() \
                    and blas_threads() > 1 else ""
            self.backend_label.setText(text)
            self.backend_label.setToolTip(tip)
        except Exception as exc:  # noqa: BLE001 - the status bar must not stop the window
            self.backend_label.setText(tr("Backend unavailable: {error}", error=exc))

    def _show_start_page(self) -> None:
        self.start_page.refresh()
        if self.stack.currentWidget() is not self.start_page or self._layout_before_start is None:
            # The gallery gets the whole window: the panels have nothing to show until a project opens, and
            # come back as they were when one does (set_project).
            self._layout_before_start = self.saveState(STATE_VERSION)
            for dock in self.docks.values():
                dock.hide()
            geometry = self.settings.value("window/geometry")
            if not self.isVisible() and isinstance(geometry, QByteArray):
                self.layout().activate()  # the minimum without the panels ...
                self.restoreGeometry(geometry)  # ... so start-up has the size the user left
        self.stack.setCurrentWidget(self.start_page)

    def _set_editing_enabled(self, enabled: bool) -> None:
        for action in self._editing_actions:
            action.setEnabled(enabled)

    def focus_node(self, node_id: str) -> None:
        if node_id in self.scene.node_items:
            self.stack.setCurrentWidget(self.view)
            self.scene.select_nodes([node_id])
            self.view.centre_on_node(node_id)

    # ------------------------------------------------------------------------------------------------
    # project life cycle
    # ------------------------------------------------------------------------------------------------
    def set_project(self, project: Project, clean: bool = True) -> None:
        """Show ``project`` in the editor (a fresh undo history); lays out graphs without positions."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._unsubscribe_settings is not None:
            self._unsubscribe_settings()
            self._unsubscribe_settings = None
        self.project = project
        graph = project.graph
        if graph.nodes and any(n.position is None for n in graph.nodes.values()):
            for node_id, pos in layout_positions(graph).items():
                graph.move_node(node_id, pos)
        self.undo_stack.clear()
        self.scene.settings = project.training  # validation reads the graph with its training settings
        self.scene.set_graph(graph)
        self.inspector.bind_graph()
        self._unsubscribe = graph.subscribe(self.graph_changed.emit)
        subscribe = getattr(project.training, "subscribe", None)
        if callable(subscribe):
            self._unsubscribe_settings = subscribe(self._settings_changed)
        if not clean:
            self.undo_stack.resetClean()
        if self._layout_before_start is not None:  # leaving the start page: the panels as they were
            state, self._layout_before_start = self._layout_before_start, None
            self.restoreState(state, STATE_VERSION)
        self.stack.setCurrentWidget(self.view)
        self._set_editing_enabled(True)
        self._update_title()
        QTimer.singleShot(0, self.view, self.view.fit_all)
        self.view.fit_all()
        self.project_opened.emit(project)

    def _settings_changed(self, _event: Any) -> None:
        """A training setting changed (panel, undo, a hint's fix): the Problems list and badges follow."""
        self.scene.schedule_validation()

    def maybe_save(self) -> bool:
        """Ask what to do with unsaved changes; True when it is fine to go on (saved or discarded)."""
        if not self.is_modified():
            return True
        name = self.project.path.name if self.project and self.project.path else shown_name(self.project)  # type: ignore
        only_weights = self.undo_stack.isClean()
        text = (tr("“{name}” has trained weights that are not saved. Save them before closing it?", name=name)
                if only_weights else tr("“{name}” has unsaved changes. Save them before closing it?", name=name))
        answer = QMessageBox.question(
            self, tr("Unsaved changes"), text,
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_project(self) -> None:
        if not self.maybe_save():
            return
        self.set_project(Project())

    def open_project(self, path: str | os.PathLike | None = None) -> bool:
        """Open a project file; a bad file shows what is wrong and leaves the current project untouched."""
        if not self.maybe_save():
            return False
        if not path:
            start = str(self.project.path.parent) if self.project and self.project.path else str(Path.home())
            path, _ = QFileDialog.getOpenFileName(self, tr("Open project"), start, PROJECT_FILTER)
            if not path:
                return False
        project = self._load_or_report(path, tr("Cannot open the project"))
        if project is None:
            return False
        self.set_project(project)
        add_recent_project(path, self.settings)
        self.statusBar().showMessage(tr("Opened {path}", path=os.fspath(path)), 5000)
        return True

    def _load_or_report(self, path: str | os.PathLike, title: str) -> Project | None:
        """The project in ``path``, or None after showing why it cannot be loaded (nothing else changes)."""
        try:
            return load_project(path)
        except UserError as exc:
            self.show_error(title, str(exc))
            return None

    def open_example(self, path: str | os.PathLike) -> bool:
        """Start a new, unsaved project from an example file."""
        if not self.maybe_save():
            return False
        project = self._load_or_report(path, tr("Cannot open the example"))
        if project is None:
            return False
        project.path = None
        self.set_project(project)
        return True

    def save(self) -> bool:
        if self.project is None:
            return False
        if self.project.path is None:
            return self.save_as()
        return self._save_to(self.project.path)

    def save_as(self, path: str | os.PathLike | None = None) -> bool:
        if self.project is None:
            return False
        if not path:
            suggested = self.project.path or Path.home() / f"{self.project.name or 'network'}{PROJECT_SUFFIX}"
            path, _ = QFileDialog.getSaveFileName(self, tr("Save project as"), str(suggested), PROJECT_FILTER)
            if not path:
                return False
            if not Path(path).suffix:
                path += PROJECT_SUFFIX
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        """Save the project and its trained weights beside it, both or neither (as far as a file system allows:
        the weights are staged first, the project replaced, then the weights moved into place)."""
        assert self.project is not None
        training = getattr(self, "training", None)
        try:
            staged = training.stage_weights(path) if training is not None else None
        except UserError as exc:
            self.show_error(tr("Cannot save the project"), str(exc))
            return False
        try:
            save_project(self.project, path)
        except UserError as exc:
            if staged is not None:
                staged.discard()
            self.show_error(tr("Cannot save the project"), str(exc))
            return False
        if staged is not None:
            try:
                staged.commit()
            except UserError as exc:
                self.show_error(tr("Cannot save the weights"), str(exc))
                return False
            training.mark_weights_saved()
        self.undo_stack.setClean()
        self.autosaver.discard()
        add_recent_project(path, self.settings)
        self._update_title()
        self.statusBar().showMessage(tr("Saved {path}", path=str(path)), 5000)
        return True

    def import_graph(self, path: str | os.PathLike | None = None) -> list[str]:
        """Add another project's network to this one (one undo step), laid out when it has no positions."""
        if self.project is None:
            self.set_project(Project())
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, tr("Import graph"), str(Path.home()), PROJECT_FILTER)
            if not path:
                return []
        try:
            other = load_project(path)
        except UserError as exc:
            self.show_error(tr("Cannot import"), str(exc))
            return []
        graph = other.graph
        if any(n.position is None for n in graph.nodes.values()):
            for node_id, pos in layout_positions(graph).items():
                graph.move_node(node_id, pos)
        rect = self.scene.nodes_rect()
        offset = (0.0, rect.bottom() + 80.0) if not rect.isNull() else (0.0, 0.0)
        ids = self.scene.paste_data(graph.to_dict(), offset, tr("Import {name}", name=Path(path).name))
        self.view.fit_all()
        return ids

    def export_graph_json(self, path: str | os.PathLike | None = None) -> bool:
        if self.project is None:
            return False
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, tr("Export graph as JSON"), str(Path.home() / "graph.json"),
                                                  "JSON (*.json)")
            if not path:
                return False
        from nnstudio.userdirs import atomic_write_bytes
        try:
            atomic_write_bytes(path, json.dumps(self.project.graph.to_dict(), indent=2).encode("utf-8"))
        except OSError as exc:
            self.show_error(tr("Cannot export"), tr("'{path}' cannot be written ({error})", path=os.fspath(path),
                                                    error=exc.strerror or exc))
            return False
        return True

    def show_error(self, title: str, text: str) -> None:
        """A message box, except in unattended runs (``NNSTUDIO_NO_DIALOGS``), where it goes to the status bar."""
        self.last_error = text
        self.statusBar().showMessage(text, 10000)
        if os.environ.get("NNSTUDIO_NO_DIALOGS"):
            return
        QMessageBox.warning(self, title, text)

    # ------------------------------------------------------------------------------------------------
    # recovery
    # ------------------------------------------------------------------------------------------------
    def offer_recovery(self, ask: bool = True) -> bool:
        """After a crash: offer to restore the newest autosave that no running window owns; True when restored.

        Autosaves of windows open elsewhere are left alone; one written by a newer NN Studio is kept.
        """
        pending = recovery.pending_recoveries()
        newer = [info for info in pending if info.newer_version is not None]
        if newer:
            self.statusBar().showMessage(tr("An autosave from a newer NN Studio was kept (this version cannot open "
                                            "it): {path}", path=str(newer[0].path)), 15000)
        info = next((info for info in pending if info.newer_version is None), None)
        if info is None:
            return False
        if ask:
            answer = QMessageBox.question(
                self, tr("Restore unsaved work?"),
                tr("NN Studio did not close properly last time. Restore the project autosaved then?"),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
            if answer != QMessageBox.StandardButton.Yes:
                recovery.discard(info)
                return False
        try:
            project = recovery.load_recovery(info)
        except UserError as exc:
            self.show_error(tr("Cannot restore"), str(exc))
            recovery.discard(info)
            return False
        self.set_project(project, clean=False)
        if self.autosaver.autosave_now():  # the restored work is this window's own autosave from now on
            recovery.discard(info)
        return True

    # ------------------------------------------------------------------------------------------------
    # editing helpers
    # ------------------------------------------------------------------------------------------------
    def _add_block_at(self, request: str, scene_pos: QPointF) -> None:
        """Add the block a palette drag, double-click or menu asks for ("Activation?function=softmax" adds an
        Activation with softmax); parameters the catalogue refuses are left at their defaults."""
        from nnstudio.ui.editor.palette import split_block_request

        block_type, wanted = split_block_request(request)
        if block_type not in BLOCKS:
            return
        spec = BLOCKS[block_type]
        params = {}
        for name, value in wanted.items():
            try:
                params[name] = spec.param(name).validate(value, block_type)
            except (KeyError, UserError):
                continue
        if self.project is None:
            self.set_project(Project())
        self.scene.add_block(block_type, scene_pos, params or None)

    def _paste(self) -> None:
        try:
            self.scene.paste_clipboard()
        except UserError as exc:
            self.show_error(tr("Cannot paste"), str(exc))

    def _duplicate(self) -> None:
        try:
            self.scene.duplicate_selection()
        except UserError as exc:
            self.show_error(tr("Cannot duplicate"), str(exc))

    def _toggle_snap(self) -> None:
        self.scene.snap_enabled = self.act_snap.isChecked()
        self.settings.setValue("editor/snap", self.scene.snap_enabled)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = recent_projects(self.settings)
        for path in paths:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_project(p))
        if not paths:
            self.recent_menu.addAction(tr("No recent projects")).setEnabled(False)

    def _fill_examples_menu(self) -> None:
        self.examples_menu.clear()
        examples = list_examples()
        chapter = None
        for example in examples:
            if example.chapter != chapter:  # the curriculum's chapters as headings, as in the gallery
                if chapter is not None:
                    self.examples_menu.addSeparator()
                chapter = example.chapter
                # Not addSection: the Fusion style draws a section as a bare line, without its title (the menu
                # began with an empty line and named no chapter).
                heading = self.examples_menu.addAction(chapter_title(chapter))
                heading.setEnabled(False)
                font = heading.font()
                font.setBold(True)
                heading.setFont(font)
            action = self.examples_menu.addAction(icon("example"), example.name)
            action.setStatusTip(example.description)
            action.triggered.connect(lambda checked=False, p=example.path: self.open_example(p))
        if not examples:
            self.examples_menu.addAction(tr("No examples installed")).setEnabled(False)

    # ------------------------------------------------------------------------------------------------
    # help
    # ------------------------------------------------------------------------------------------------
    def show_block_help(self, node_id: str | None = None) -> None:
        """F1 (Help > Block help, a node's Help menu entry): the help card of that node or the selected one,
        with its current values and input shape; the reference of every block when none is selected."""
        from nnstudio.ui.help_card import HelpCard
        if not node_id:
            selected = self.scene.selected_node_ids()
            node_id = selected[0] if selected else None
        node = self.scene.graph.nodes.get(node_id) if node_id else None
        dialog = getattr(self, "block_help_dialog", None)
        if dialog is None:
            dialog = QDialog(self)
            dialog.setObjectName("blockHelpDialog")
            self.block_help_card = HelpCard(dialog)
            QVBoxLayout(dialog).addWidget(self.block_help_card)
            dialog.resize(560, 640)
            self.block_help_dialog = dialog
        card = self.block_help_card
        if node is not None:
            inputs = [e.src for e in self.scene.graph.edges if e.dst == node.id]
            in_shape = self.scene.report.shapes.get(inputs[0]) if len(inputs) == 1 else None
            card.show_block(node.type, node.params, in_shape)
            spec = BLOCKS[node.type]
            dialog.setWindowTitle(tr("Help: {block}", block=pick(spec.title_en, spec.title_zh)))
        else:
            card.show_reference()
            dialog.setWindowTitle(tr("Block help"))
        dialog.show()
        dialog.raise_()

    def show_about(self) -> None:
        from nnstudio.ui.about import show_about
        self.about_dialog = show_about(self)

    # ------------------------------------------------------------------------------------------------
    # window layout and closing
    # ------------------------------------------------------------------------------------------------
    def reset_layout(self) -> None:
        """Every dock back to its first place and size, for the window's current size (View > Reset layout)."""
        self._layout_before_start = None  # also on the start page: the reset layout is the one to keep
        self.restoreState(self._default_state, STATE_VERSION)
        training = getattr(self, "training", None)
        if training is not None:
            training.size_docks(force=True)

    def _first_size(self) -> None:
        """The window of a first start (a saved geometry replaces it): :data:`FIRST_SIZE`, or on a smaller screen
        (a 1024 x 768 projector) the screen's available area, frame included; centred.  At 1440 x 900 the
        window ran past such a screen's edges, with the right-hand panels and the run's figures off screen,
        and the panels were laid out for a height it did not have."""
        screen = self.screen() or QApplication.primaryScreen()
        width, height = FIRST_SIZE
        if screen is None:
            self.resize(width, height)
            return
        area = screen.availableGeometry()
        width = min(width, area.width() - FRAME_ROOM[0])
        height = min(height, area.height() - FRAME_ROOM[1])
        self.resize(width, height)  # no smaller than the panels' least size: Qt keeps to that
        self.move(area.left() + max(0, (area.width() - FRAME_ROOM[0] - self.width()) // 2),
                  area.top() + max(0, (area.height() - FRAME_ROOM[1] - self.height()) // 2))

    def restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state, STATE_VERSION)
        self._layout_restored = True

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        state = self._layout_before_start if self._layout_before_start is not None else self.saveState(STATE_VERSION)
        self.settings.setValue("window/state", state)
        self.settings.sync()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._schedule_tab_cleanup()

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._schedule_tab_cleanup()

    def _schedule_tab_cleanup(self, *_: Any) -> None:
        QTimer.singleShot(0, self, self.hide_orphan_tab_bars)

    def hide_orphan_tab_bars(self) -> int:
        """Hide dock tab bars the layout no longer uses; returns how many.

        Qt's main-window layout sometimes leaves the tab bar of a tabbed dock group visible where it was
        before a relayout (the window resized before it was first shown, say), so a second copy of "Loss and
        accuracy | Decision boundary" floats over the plots.  The tab bar in use sits against the dock showing
        its current tab; any other visible tab bar of the window is a leftover.
        """
        from PySide6.QtWidgets import QTabBar
        hidden = 0
        for bar in self.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if not bar.isVisible() or bar.count() == 0:
                continue
            current = bar.tabText(bar.currentIndex()).replace("&", "")
            rect = bar.geometry()
            in_use = False
            for dock in self.docks.values():
                if dock.isVisible() and not dock.isFloating() and dock.windowTitle().replace("&", "") == current:
                    g = dock.geometry()
                    beside = rect.left() < g.right() and rect.right() > g.left()
                    # Against the dock's bottom edge (tabs below) or its top edge (tabs above), never inside it.
                    in_use = beside and (abs(rect.top() - g.bottom()) <= 8 or abs(rect.bottom() - g.top()) <= 8)
                    if in_use:
                        break
            if not in_use:
                bar.hide()
                hidden += 1
        return hidden

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        training = getattr(self, "training", None)
        if training is not None and training.is_training:
            # Stop first: what the run learned becomes the project's weights, which the question below covers.
            training.stop_and_wait()
        if not self.maybe_save():
            event.ignore()
            return
        if training is not None:
            training.window_closing()
        if getattr(self, "runs", None) is not None:
            self.runs.window_closing()  # stops a twin run or sweep; an unsaved project's runs go with it
        if getattr(self, "profile", None) is not None:
            self.profile.window_closing()  # a layer timing still running ends first
        self.save_layout()
        self.autosaver.release()  # a clean exit: this window's autosave and lock go
        self.scene.detach()
        self.inspector.unbind()
        for name in ("_unsubscribe", "_unsubscribe_settings"):
            unsubscribe = getattr(self, name)
            if unsubscribe is not None:
                unsubscribe()
                setattr(self, name, None)
        event.accept()
