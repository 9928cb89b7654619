"""The 2-D lab's data controls beside the decision boundary: which set, noise, train-to-test ratio, number
of points, a new sample, and points added by clicking on the plane.

Why this exists: TensorFlow Playground lets a class change the data and see the network cope; here the same
controls edit the project's own training settings (``dataset`` and its ``dataset_options``: ``noise``,
``train_ratio``, ``points``, ``seed``, ``added_points``), each change one undo command through the training
controller (the Training panel's :class:`~nnstudio.ui.editor.commands.SetTrainingCommand`), so they save with
the project, undo with Ctrl+Z and are what ``nnstudio train`` uses.  Whenever the project or those settings
change, the data is generated again (the registry's toy sets take milliseconds) and shown on the boundary
panel, so the plane shows the data before any run.  The controls appear only for the 2-D sets.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                               QPushButton, QScrollArea, QSizePolicy, QSlider, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from nnstudio.errors import UserError
from nnstudio.ui.i18n import pick, tr
from nnstudio.ui.panels.boundary import PALETTE, value_rgb

PREVIEW_SIZE = 32  # pixels of a set's thumbnail
PREVIEW_POINTS = 300
NOISE_STEPS = 100  # the noise slider's steps over [0, MAX_NOISE_SHOWN]
MAX_NOISE_SHOWN = 0.5
POINTS_RANGE = (20, 5000)


def two_d_sets() -> list[Any]:
    """The 2-D lab's sets (toy.two_d_sets): name, titles, defaults and extent of each."""
    from nnstudio.data import toy  # noqa: PLC0415
    return list(toy.two_d_sets())


def preview_image(name: str, size: int = PREVIEW_SIZE) -> QImage:
    """A small picture of set ``name``: its points in their class colours on white (array operations only)."""
    from nnstudio.data import toy  # noqa: PLC0415
    ds = toy.generate(name, points=PREVIEW_POINTS, seed=0)
    x, y = np.asarray(ds.x_train, dtype=np.float64), np.asarray(ds.y_train)
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = np.maximum(hi - lo, 1e-6).max()
    centre = (lo + hi) / 2.0
    scaled = (x - centre) / span * 0.86 + 0.5  # the same scale on both axes, a margin around
    px = np.clip((scaled[:, 0] * (size - 1)).round().astype(int), 0, size - 1)
    py = np.clip(((1.0 - scaled[:, 1]) * (size - 1)).round().astype(int), 0, size - 1)
    if ds.task == "regression":
        colours = value_rgb(y.reshape(-1), max(float(np.abs(y).max()), 1e-6), strength=1.0)
    else:
        colours = PALETTE[np.clip(y.reshape(-1).astype(int), 0, len(PALETTE) - 1)].astype(np.uint8)
    rgb = np.full((size, size, 3), 255, dtype=np.uint8)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):  # 2 x 2 dots read better than single pixels
        rgb[np.clip(py + dy, 0, size - 1), np.clip(px + dx, 0, size - 1)] = colours
    rgb = np.ascontiguousarray(rgb)
    return QImage(rgb.data, size, size, 3 * size, QImage.Format.Format_RGB888).copy()


class DataControls(QWidget):
    """The controls; ``controller`` is the window's TrainingController (project, settings edits, dashboard)."""

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.boundary = controller.dashboard.boundary
        self.sets = {facts.name: facts for facts in two_d_sets()}
        self.dataset: Any = None  # the generated data on show
        self._updating = False  # True while the widgets follow the settings (no edits from that)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.setSpacing(3)
        self.heading_data = QLabel()
        layout.addWidget(self.heading_data)
        grid = QGridLayout()
        grid.setSpacing(2)
        self.pictures = QButtonGroup(self)
        self.pictures.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        for i, facts in enumerate(self.sets.values()):
            button = QToolButton()
            button.setCheckable(True)
            button.setIcon(QIcon(QPixmap.fromImage(preview_image(facts.name))))
            button.setIconSize(QSize(PREVIEW_SIZE, PREVIEW_SIZE))
            button.setToolTip(pick(facts.title, facts.title_zh))
            button.setAccessibleName(pick(facts.title, facts.title_zh))
            button.setAutoRaise(True)
            self.pictures.addButton(button)
            self.buttons[facts.name] = button
            button.clicked.connect(lambda _checked=False, name=facts.name: self.choose(name))
            grid.addWidget(button, i // 3, i % 3)
        layout.addLayout(grid)
        self.set_title = QLabel("")
        layout.addWidget(self.set_title)

        self.noise = self._slider(0, NOISE_STEPS)
        self.noise_label = QLabel("")
        layout.addWidget(self.noise_label)
        layout.addWidget(self.noise)
        self.ratio = self._slider(10, 90)
        self.ratio.setSingleStep(5)
        self.ratio_label = QLabel("")
        layout.addWidget(self.ratio_label)
        layout.addWidget(self.ratio)
        self.points = QSpinBox()
        self.points.setRange(*POINTS_RANGE)
        self.points.setSingleStep(50)
        self.points.setKeyboardTracking(False)
        self.points.setMaximumWidth(72)
        self.points.valueChanged.connect(self._points_changed)
        self.points_label = QLabel()
        layout.addLayout(self._row(self.points_label, self.points))
        self.regenerate = QPushButton()
        self.regenerate.clicked.connect(self.new_sample)
        layout.addWidget(self.regenerate)

        self.heading_add = QLabel()
        layout.addWidget(self.heading_add)
        self.add_button = QPushButton()
        self.add_button.setCheckable(True)
        self.add_button.toggled.connect(self._adding_toggled)
        self.add_class = QComboBox()
        self.add_value = QDoubleSpinBox()
        self.add_value.setRange(-10.0, 10.0)
        self.add_value.setSingleStep(0.1)
        for field in (self.add_class, self.add_value):
            field.setMaximumWidth(80)
        layout.addWidget(self.add_button)
        self.class_label, self.value_label = QLabel(), QLabel()
        layout.addLayout(self._row(self.class_label, self.add_class))
        layout.addLayout(self._row(self.value_label, self.add_value))
        self.clear_added = QPushButton()
        self.clear_added.clicked.connect(self.remove_added)
        layout.addWidget(self.clear_added)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #F59E0B;")  # amber, as the panels' notices (light and dark themes)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.setFixedWidth(3 * (PREVIEW_SIZE + 10) + 8)
        self.boundary.plane_clicked.connect(self.add_point)
        self._unsubscribe: Any = None
        self._set_texts()
        self.active = False  # the project's dataset is a 2-D set: the controls show

    # -- building -------------------------------------------------------------------------------------------
    def _set_texts(self) -> None:
        """The texts that do not depend on the project (again after a language change)."""
        self.heading_data.setText(f"<b>{tr('Data')}</b>")
        self.heading_add.setText(f"<b>{tr('Add points')}</b>")
        self.noise.setToolTip(tr("How far points stray from their set's shape"))
        self.ratio.setToolTip(tr("The share of the points used for training; the rest test the network"))
        self.points.setToolTip(tr("How many points the set has in all (training and test)"))
        self.points_label.setText(tr("Points"))
        self.regenerate.setText(tr("Regenerate"))
        self.regenerate.setToolTip(tr("A new random sample of the same set (a new seed)"))
        self.add_button.setText(tr("Click to add"))
        self.add_button.setToolTip(tr("While on, a click on the plane adds a training point of the chosen class"))
        self.add_value.setToolTip(tr("The target value of the points you add"))
        self.class_label.setText(tr("Class"))
        self.value_label.setText(tr("Value"))
        self.clear_added.setText(tr("Remove added"))
        self.clear_added.setToolTip(tr("Remove the points added by clicking"))
        for facts in self.sets.values():
            self.buttons[facts.name].setToolTip(pick(facts.title, facts.title_zh))
            self.buttons[facts.name].setAccessibleName(pick(facts.title, facts.title_zh))

    def retranslate(self) -> None:
        self._set_texts()
        self.refresh()

    @staticmethod
    def _row(label: QWidget, widget: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(4)
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(label, 2)
        row.addWidget(widget, 3)
        return row

    def _slider(self, lo: int, hi: int) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(lo, hi)
        slider.setTracking(False)  # one edit when the handle is let go, not one per pixel
        slider.valueChanged.connect(self._slider_changed)
        slider.sliderMoved.connect(self._slider_moved)
        return slider

    # -- following the project ----------------------------------------------------------------------------
    @property
    def project(self) -> Any:
        return self.controller.project

    def project_opened(self, project: Any) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        subscribe = getattr(getattr(project, "training", None), "subscribe", None)
        if callable(subscribe):
            self._unsubscribe = subscribe(self._settings_changed)
        self.add_button.setChecked(False)
        self.refresh()

    def close_project(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _settings_changed(self, event: Any) -> None:
        if getattr(event, "key", None) in ("dataset", "dataset_options"):
            self.refresh()

    def settings(self) -> tuple[str, dict[str, Any]]:
        project = self.project
        training = getattr(project, "training", None) or {}
        return str(training.get("dataset", "")), dict(training.get("dataset_options") or {})

    def refresh(self) -> None:
        """Show the widgets and the data for the project's dataset setting (hidden for other sets)."""
        name, options = self.settings()
        facts = self.sets.get(name)
        self.active = facts is not None
        self.boundary.set_side_active(self.active)
        if facts is None:
            self.add_button.setChecked(False)
            self.dataset = None
            if not self.controller.is_training:
                # Other generated sets in the plane (the and / or / xor truth tables) show too; files and
                # downloads are not read here, in the GUI thread: a run shows their points if they have two.
                from nnstudio.data import toy  # noqa: PLC0415
                self.boundary.show_data(self._load(name, options, quiet=True) if name in toy.TOY_NAMES else None)
            return
        self._updating = True
        try:
            self.buttons[name].setChecked(True)
            self.set_title.setText(pick(facts.title, facts.title_zh))
            noise = float(options.get("noise", facts.default_noise))
            self.noise.setValue(int(round(min(noise, MAX_NOISE_SHOWN) / MAX_NOISE_SHOWN * NOISE_STEPS)))
            n_train, n_test = options.get("n_train"), options.get("n_test")
            if n_train is not None or n_test is not None:
                total = int(n_train if n_train is not None else 0) + int(n_test if n_test is not None else 0)
                ratio = (int(n_train or 0) / total) if total else facts.default_train_ratio
            else:
                total = int(options.get("points", facts.default_points))
                ratio = float(options.get("train_ratio", facts.default_train_ratio))
            self.points.setValue(min(max(total, POINTS_RANGE[0]), POINTS_RANGE[1]))
            self.ratio.setValue(int(round(ratio * 100)))
            self._show_values(noise, ratio)
            regression = facts.task == "regression"
            self.add_class.clear()
            for i in range(max(facts.num_classes, 0)):
                r, g, b = (int(v) for v in PALETTE[i])
                self.add_class.addItem(tr("class {name}", name=i), i)
                self.add_class.setItemData(i, f"rgb({r},{g},{b})", Qt.ItemDataRole.ToolTipRole)
            self.add_class.setVisible(not regression)
            self.add_value.setVisible(regression)
            self._row_label(self.add_class).setVisible(not regression)
            self._row_label(self.add_value).setVisible(regression)
            added = options.get("added_points") or []
            self.clear_added.setEnabled(bool(added))
            self.clear_added.setText(tr("Remove added ({count})", count=len(added)) if added else tr("Remove added"))
        finally:
            self._updating = False
        self.dataset = self._load(name, options)
        if not self.controller.is_training:
            self.boundary.show_data(self.dataset)

    def _row_label(self, field: QWidget) -> QWidget:
        layout = self.layout()
        for i in range(layout.count()):
            row = layout.itemAt(i).layout()
            if row is not None and row.count() == 2 and row.itemAt(1).widget() is field:
                return row.itemAt(0).widget()
        return field

    def _load(self, name: str, options: dict[str, Any], quiet: bool = False) -> Any:
        """The dataset the settings describe (the registry's, as a run gets it); None with the reason shown."""
        if not name:
            return None
        from nnstudio.data.registry import get_dataset  # noqa: PLC0415
        try:
            dataset = get_dataset(name, **options)
        except UserError as exc:
            if not quiet:
                self.status.setText(str(exc))
            return None
        except Exception:  # noqa: BLE001 - a dataset that cannot load now is for the run to report
            return None
        self.status.setText("")
        return dataset

    def _show_values(self, noise: float, ratio: float) -> None:
        self.noise_label.setText(tr("Noise {value}", value=f"{noise:.2f}"))
        self.ratio_label.setText(tr("Train {value}%", value=int(round(ratio * 100))))

    # -- edits -----------------------------------------------------------------------------------------------
    def _edit(self, changes: dict[str, Any]) -> None:
        """Change ``dataset_options`` as one undo step (None removes an option)."""
        name, options = self.settings()
        facts = self.sets.get(name)
        if facts is None:
            return
        new = dict(options)
        if "points" in changes or "train_ratio" in changes:
            # The size is given as points and a ratio from now on (the core refuses both forms at once).
            ratio = self.ratio.value() / 100.0
            new.pop("n_train", None)
            new.pop("n_test", None)
            new.setdefault("points", int(self.points.value()))
            new.setdefault("train_ratio", ratio)
        for key, value in changes.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = value
        if new != options:
            self.controller.edit_setting("dataset_options", new)

    def choose(self, name: str) -> None:
        """Pick set ``name``: the dataset setting changes, and options that belong to the old set go."""
        current, options = self.settings()
        if name == current or self._updating:
            self.buttons.get(current, self.buttons[name]).setChecked(True)
            return
        kept = {k: options[k] for k in ("points", "train_ratio") if k in options}
        undo = getattr(self.controller.window, "undo_stack", None)
        if undo is not None:
            undo.beginMacro(tr("Choose the data set {name}", name=name))
        try:
            self.controller.edit_setting("dataset", name)
            self.controller.edit_setting("dataset_options", kept or None)
        finally:
            if undo is not None:
                undo.endMacro()

    def _slider_moved(self, _value: int) -> None:
        self._show_values(self.noise.sliderPosition() / NOISE_STEPS * MAX_NOISE_SHOWN,
                          self.ratio.sliderPosition() / 100.0)

    def _slider_changed(self, _value: int) -> None:
        if self._updating:
            return
        if self.sender() is self.noise:
            self._edit({"noise": round(self.noise.value() / NOISE_STEPS * MAX_NOISE_SHOWN, 4)})
        else:
            self._edit({"train_ratio": self.ratio.value() / 100.0})

    def _points_changed(self, value: int) -> None:
        if not self._updating:
            self._edit({"points": int(value)})

    def new_sample(self) -> None:
        """Regenerate: the same set and options with the next seed."""
        _name, options = self.settings()
        self._edit({"seed": int(options.get("seed", 0)) + 1})

    def _adding_toggled(self, on: bool) -> None:
        self.boundary.adding = bool(on)
        self.boundary.view.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def add_point(self, x: float, y: float) -> None:
        """A click on the plane while adding: one more training point of the chosen class (or value)."""
        name, options = self.settings()
        facts = self.sets.get(name)
        if facts is None or self.controller.is_training:
            return
        label = float(self.add_value.value()) if facts.task == "regression" else float(self.add_class.currentData() or 0)
        added = [list(p) for p in (options.get("added_points") or [])]
        added.append([round(float(x), 4), round(float(y), 4), label])
        self._edit({"added_points": added})

    def remove_added(self) -> None:
        self._edit({"added_points": None})

    def set_running(self, running: bool) -> None:
        """The data cannot change under a run: the controls wait for it to end."""
        for widget in (self.noise, self.ratio, self.points, self.regenerate, self.add_button, self.clear_added,
                       *self.buttons.values()):
            widget.setEnabled(not running)
        if running:
            self.add_button.setChecked(False)
        else:
            self.refresh_enabled()

    def refresh_enabled(self) -> None:
        _name, options = self.settings()
        self.clear_added.setEnabled(bool(options.get("added_points")))


class DataControlsLink(QObject):
    """Connects the controls to the window's project and runs (bound slots, so Qt drops them with it)."""

    def __init__(self, controller: Any, controls: DataControls) -> None:
        super().__init__(controller)
        self.controller, self.controls = controller, controls

    def project_opened(self, project: Any) -> None:
        self.controls.project_opened(project)

    def run_starting(self, _continuing: bool) -> None:
        self.controls.set_running(True)

    def run_finished(self, _result: Any) -> None:
        self.controls.set_running(False)

    def language_changed(self, _lang: str = "") -> None:
        from shiboken6 import isValid  # noqa: PLC0415
        board = self.controller.dashboard
        if not (isValid(self.controls) and isValid(board.boundary) and isValid(board.neurons)):
            return  # the window has closed; its listener is being removed
        board.boundary.retranslate()
        board.neurons.retranslate()
        self.controls.retranslate()

    def weights_changed(self) -> None:
        # Reset weights clears the panels: the data comes back at once (a kept boundary stays).
        if not self.controller.is_training and self.controls.active and self.controls.boundary.data is None:
            self.controls.refresh()


def install_data_controls(controller: Any) -> DataControls:
    """Put the data controls beside the decision boundary of ``controller``'s dashboard and follow the project."""
    controls = DataControls(controller)
    scroller = QScrollArea()  # a short dock scrolls the controls instead of squeezing them
    scroller.setWidget(controls)
    scroller.setWidgetResizable(True)
    scroller.setFrameShape(QScrollArea.Shape.NoFrame)
    scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroller.setFixedWidth(controls.width() + scroller.verticalScrollBar().sizeHint().width())
    controls.scroller = scroller
    controller.dashboard.boundary.add_side_widget(scroller)
    link = DataControlsLink(controller, controls)
    controls.link = link
    window = controller.window
    if hasattr(window, "project_opened"):
        window.project_opened.connect(link.project_opened)
    controller.run_starting.connect(link.run_starting)
    controller.run_finished.connect(link.run_finished)
    controller.weights_changed.connect(link.weights_changed)
    from nnstudio.ui import i18n  # noqa: PLC0415
    listen = getattr(i18n, "add_language_listener", None)  # live language switching, where the app has it
    if callable(listen):
        unlisten = listen(link.language_changed)
        if hasattr(window, "destroyed"):
            window.destroyed.connect(unlisten)  # a plain function: it runs while the window goes away
    if getattr(window, "project", None) is not None:
        controls.project_opened(window.project)
    else:
        controller.dashboard.boundary.set_side_active(False)
    return controls


__all__ = ["DataControls", "install_data_controls", "preview_image", "two_d_sets"]
