"""Glue between the main window and the teaching tools: docks, the Learn menu, Preferences, hints.

Why this exists: the main window knows nothing about teaching.  :func:`install_teaching` adds from outside
the gradient-check, step-through and hints docks, a Learn menu (before Help) with those and the "Models
compared" page (also under Help), Preferences… in the Edit menu, and picks a CJK font when the interface
is Chinese.  It only uses the window's extension points: ``add_dock``, ``menuBar``, ``help_menu``,
``edit_menu``, ``project`` / ``graph``, ``focus_node``, ``open_example``, ``statusBar`` and, when present,
``training_controller`` (for its settings and its Hint events).
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu

from nnstudio.ui.gradcheck_panel import GradCheckPanel
from nnstudio.ui.help_card import HelpCard
from nnstudio.ui.hints_panel import HintsPanel
from nnstudio.ui.i18n import current_language, tr
from nnstudio.ui.models_compared_page import ModelsComparedDialog, example_path
from nnstudio.ui.preferences import PreferencesDialog, apply_interface_language
from nnstudio.ui.stepper_panel import StepperPanel

Area = Qt.DockWidgetArea


class TeachingController(QObject):
    """Owns the teaching panels of one main window."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.gradcheck = GradCheckPanel(self.current_network)
        self.stepper = StepperPanel(self.current_network)
        self.hints = HintsPanel(window)
        self.docks: dict[str, Any] = {}
        self.actions: dict[str, QAction] = {}
        self.models_dialog: ModelsComparedDialog | None = None
        self.preferences_dialog: PreferencesDialog | None = None

    # -- what the panels work on ------------------------------------------------------------------------
    def current_network(self) -> tuple[Any, dict[str, Any] | None]:
        """(graph, training settings) of the open project, or (None, None)."""
        project = getattr(self.window, "project", None)
        if project is None:
            return None, None
        controller = getattr(self.window, "training_controller", None)
        if controller is not None and hasattr(controller, "settings"):
            return project.graph, dict(controller.settings())
        return project.graph, dict(project.training or {})

    # -- installation --------------------------------------------------------------------------------------
    def install(self) -> "TeachingController":
        w = self.window
        apply_interface_language(current_language())
        self.docks["gradient_check"] = w.add_dock(self.gradcheck, tr("Gradient check"), Area.RightDockWidgetArea,
                                                  "gradient_check")
        self.docks["step_through"] = w.add_dock(self.stepper, tr("Step through"), Area.RightDockWidgetArea,
                                                "step_through")
        self.docks["hints"] = w.add_dock(self.hints, tr("Hints"), Area.RightDockWidgetArea, "hints")
        anchor = getattr(w, "docks", {}).get("inspector")
        for name in ("gradient_check", "step_through", "hints"):
            dock = self.docks[name]
            if anchor is not None:
                w.tabifyDockWidget(anchor, dock)
            dock.hide()  # opened from the Learn menu; shown again when the saved layout says so
        if anchor is not None:
            anchor.raise_()

        self.stepper.node_focused.connect(self._focus)
        self.gradcheck.node_activated.connect(self._focus)
        self.hints.fix_applied.connect(lambda text: self._status(tr("Applied: {fix}", fix=text)))

        menu = QMenu(tr("&Learn"), w)
        menu.setObjectName("learnMenu")
        help_menu = getattr(w, "help_menu", None)
        bar = w.menuBar()
        if help_menu is not None:
            bar.insertMenu(help_menu.menuAction(), menu)
        else:
            bar.addMenu(menu)
        self.learn_menu = menu
        self.actions["step"] = self._action(menu, tr("&Step through one training step"), self.show_stepper)
        self.actions["gradcheck"] = self._action(menu, tr("&Gradient check"), self.show_gradcheck)
        self.actions["hints"] = self._action(menu, tr("&Hints"), lambda: self._show_dock("hints"))
        menu.addSeparator()
        self.actions["models"] = self._action(menu, tr("&Models compared…"), self.show_models_compared)
        if help_menu is not None:
            help_menu.addSeparator()
            help_menu.addAction(self.actions["models"])
        edit_menu = getattr(w, "edit_menu", None)
        self.actions["preferences"] = QAction(tr("&Preferences…"), w)
        self.actions["preferences"].setShortcut(QKeySequence(QKeySequence.StandardKey.Preferences))
        self.actions["preferences"].setMenuRole(QAction.MenuRole.PreferencesRole)
        self.actions["preferences"].triggered.connect(lambda _checked=False: self.show_preferences())
        if edit_menu is not None:
            edit_menu.addSeparator()
            edit_menu.addAction(self.actions["preferences"])
        else:
            menu.addAction(self.actions["preferences"])

        controller = getattr(w, "training_controller", None)
        self._hook_hints(controller)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.gradcheck.shutdown)
        return self

    def _hook_hints(self, controller: Any) -> None:
        """Receive the trainer's Hint events from the training controller."""
        if controller is None:
            return
        controller.hint_received.connect(self._hint_received)
        # Hints and applied-fix notes belong to one run of one project.
        controller.run_starting.connect(self._run_starting)
        project_opened = getattr(self.window, "project_opened", None)
        if project_opened is not None:
            project_opened.connect(self._project_opened)

    def _run_starting(self, _continuing: bool) -> None:
        self.hints.clear()

    def _project_opened(self, _project: Any) -> None:
        self.hints.clear()

    def _hint_received(self, event: Any) -> None:
        self.hints.add_hint(event)
        if getattr(event, "message", None) and self.docks["hints"].isHidden():
            self._show_dock("hints")

    def _action(self, menu: QMenu, text: str, slot: Any) -> QAction:
        action = QAction(text, self.window)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    # -- actions ---------------------------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        bar = getattr(self.window, "statusBar", None)
        if callable(bar):
            bar().showMessage(text, 6000)

    def _focus(self, node_id: str) -> None:
        focus = getattr(self.window, "focus_node", None)
        if callable(focus):
            focus(node_id)

    def _show_dock(self, name: str) -> None:
        dock = self.docks[name]
        dock.show()
        dock.raise_()

    def show_stepper(self) -> None:
        self._show_dock("step_through")

    def show_gradcheck(self) -> None:
        self._show_dock("gradient_check")
        self.gradcheck.run_check()

    def show_models_compared(self) -> ModelsComparedDialog:
        if self.models_dialog is None:
            self.models_dialog = ModelsComparedDialog(self.window)
            self.models_dialog.open_example.connect(self.open_example)
        else:
            self.models_dialog.retranslate()
        self.models_dialog.show()
        self.models_dialog.raise_()
        return self.models_dialog

    def open_example(self, name: str) -> bool:
        path = example_path(name)
        if not path.is_file():
            self._status(tr("The example “{name}” is not installed.", name=name))
            return False
        opener = getattr(self.window, "open_example", None)
        return bool(opener(path)) if callable(opener) else False

    def show_preferences(self) -> PreferencesDialog:
        dialog = PreferencesDialog(parent=self.window)
        dialog.language_changed.connect(self._language_changed)
        self.preferences_dialog = dialog
        dialog.open()
        return dialog

    def _language_changed(self, lang: str) -> None:
        for panel in (self.gradcheck, self.stepper, self.hints):
            panel.retranslate()
        if self.models_dialog is not None:
            self.models_dialog.retranslate()
        self._status(tr("Language changed."))

    def help_card(self) -> HelpCard:
        """A new help card (e.g. for a dialog); the inspector can embed one the same way."""
        return HelpCard()


def install_teaching(main_window: Any) -> TeachingController:
    """Add the teaching docks, the Learn menu, Models compared and Preferences to ``main_window``."""
    existing = getattr(main_window, "teaching_controller", None)
    if existing is not None:  # installed once per window
        return existing
    controller = TeachingController(main_window)
    main_window.teaching_controller = controller
    return controller.install()


__all__ = ["TeachingController", "install_teaching"]
