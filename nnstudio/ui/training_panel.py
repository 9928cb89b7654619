"""The training panel: the run's settings, Reset weights / Evaluate, and the run's status line.

Why this exists: the settings are part of the project (its ``training`` section), so this widget is only a
view of them: :meth:`TrainingPanel.set_settings` shows a dict without echoing it back, and every edit by
the user is announced once through ``setting_edited(key, value)`` for the controller to write into the
project (as an undoable command when the window has an undo stack).  The buttons only emit signals; the
controller owns the run.  Train / Pause / Stop / Step and the progress live in the always-visible run bar
(:mod:`nnstudio.ui.run_bar`).
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout,
                               QHBoxLayout, QLabel, QMenu, QPushButton, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from nnstudio.engine.optimizers import OPTIMIZERS, SCHEDULES
from nnstudio.graph.project_file import BACKEND_CHOICES, default_training
from nnstudio.graph.shapes import LOSS_NAMES
from nnstudio.ui.i18n import N_, tr

USER_PREFIX = "user:"
LOSS_TEXT = {"mse": N_("Mean squared error"), "cross_entropy": N_("Cross-entropy"), "binary_cross_entropy":
             N_("Binary cross-entropy"), "perceptron": N_("Perceptron"), "hinge": N_("Hinge")}
OPTIMIZER_TEXT = {"sgd": N_("SGD"), "momentum": N_("SGD with momentum"), "nesterov": N_("Nesterov"),
                  "adam": N_("Adam"), "rmsprop": N_("RMSprop")}
SCHEDULE_TEXT = {"constant": N_("Constant"), "step": N_("Step decay"), "cosine": N_("Cosine")}


def dataset_choices() -> list[tuple[str, str]]:
    """(name, description) of the datasets to offer; the registry's list when it is there."""
    try:
        from nnstudio.data.registry import list_datasets  # noqa: PLC0415
        return [(str(n), str(d)) for n, d in list_datasets()]
    except Exception:  # noqa: BLE001 - the panel must open even when a dataset source is broken
        return [("mnist", "")]


def backend_choices() -> list[str]:
    try:
        from nnstudio.engine.backend import available_backends  # noqa: PLC0415
        found = available_backends()
    except Exception:  # noqa: BLE001
        found = ["numpy"]
    return ["auto"] + [b for b in BACKEND_CHOICES if b in found and b != "auto"]


class TrainingPanel(QWidget):
    """Settings form, Reset weights / Evaluate and a status line."""

    setting_edited = Signal(str, object)
    reset_clicked = Signal()
    evaluate_clicked = Signal()

    def __init__(self, parent: QWidget | None = None,
                 choose_data_path: Callable[[QWidget, bool], str | None] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("training_panel")
        self._loading = False
        self._choose_data_path = choose_data_path or _ask_data_path
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        data_row = QHBoxLayout()
        self.dataset = QComboBox()
        self.dataset.setMinimumContentsLength(12)
        self._fill_datasets()
        self.open_data = QToolButton()
        self.open_data.setText(tr("Open data..."))
        self.open_data.setToolTip(tr("Train on your own data: a folder of images, IDX files, .npz or .csv"))
        menu = QMenu(self.open_data)
        menu.addAction(tr("Folder..."), lambda: self._open_user_data(folder=True))
        menu.addAction(tr("File..."), lambda: self._open_user_data(folder=False))
        self.open_data.setMenu(menu)
        self.open_data.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        data_row.addWidget(self.dataset, 1)
        form.addRow(tr("Dataset"), data_row)
        # Under the list, not beside it: beside it the row was wider than the right-hand column at 1024x768 and
        # 1440x900 ("Open (" cut at the edge, the whole form scrolling sideways)
        open_row = QHBoxLayout()
        open_row.addStretch(1)
        open_row.addWidget(self.open_data)
        form.addRow("", open_row)

        self.loss = self._combo([(n, tr(LOSS_TEXT.get(n, n))) for n in LOSS_NAMES])
        self.optimizer = self._combo([(n, tr(OPTIMIZER_TEXT.get(n, n))) for n in OPTIMIZERS])
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(6)
        self.learning_rate.setRange(1e-6, 10.0)
        self.learning_rate.setSingleStep(0.0005)
        self.learning_rate.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 65536)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100000)
        self.schedule = self._combo([(n, tr(SCHEDULE_TEXT.get(n, n))) for n in SCHEDULES])
        # A short text: the row's width sets the panel's least width, which the right-hand column must hold
        self.augment = QCheckBox(tr("Shift and rotate images"))
        self.augment.setToolTip(tr("Shift and rotate images a little"))
        self.validation_split = QDoubleSpinBox()
        self.validation_split.setRange(0.0, 0.9)
        self.validation_split.setSingleStep(0.05)
        self.validation_split.setDecimals(2)
        self.backend = self._combo([(b, {"auto": tr("Automatic"), "numpy": "NumPy (CPU)", "cupy": "CuPy (GPU)"}[b])
                                    for b in backend_choices()])
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.clip_norm = QDoubleSpinBox()  # 0 shows "Off": no clipping (clip_norm null in the project)
        self.clip_norm.setRange(0.0, 1e6)
        self.clip_norm.setDecimals(2)
        self.clip_norm.setSingleStep(0.5)
        self.clip_norm.setSpecialValueText(tr("Off"))
        self.clip_norm.setToolTip(tr("Scale the gradients down whenever their overall size (norm) is above this "
                                     "value; a guard against exploding gradients"))
        self.l1, self.l2 = self._penalty_box(), self._penalty_box()
        self.l1.setToolTip(tr("L1 penalty rate: adds rate × Σ|w| over every Dense and Conv2D weight to the "
                              "training loss, which pushes the weights the data does not need to zero"))
        self.l2.setToolTip(tr("L2 penalty rate: adds rate × Σw² over every Dense and Conv2D weight to the "
                              "training loss, which keeps weights small"))
        for label, widget in ((tr("Loss"), self.loss), (tr("Optimizer"), self.optimizer),
                              (tr("Learning rate"), self.learning_rate), (tr("Batch size"), self.batch_size),
                              (tr("Epochs"), self.epochs), (tr("Schedule"), self.schedule),
                              (tr("L1 regularisation"), self.l1), (tr("L2 regularisation"), self.l2),
                              (tr("Gradient clipping"), self.clip_norm),
                              (tr("Augmentation"), self.augment), (tr("Validation split"), self.validation_split),
                              (tr("Backend"), self.backend), (tr("Seed"), self.seed)):
            form.addRow(label, widget)
        layout.addLayout(form)

        buttons = QGridLayout()
        self.reset_button = QPushButton(tr("Reset weights"))
        self.evaluate_button = QPushButton(tr("Evaluate on test set"))
        buttons.addWidget(self.reset_button, 0, 0)
        buttons.addWidget(self.evaluate_button, 0, 1)
        layout.addLayout(buttons)
        self.status = QLabel(tr("Ready."))
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.reset_button.clicked.connect(self.reset_clicked.emit)
        self.evaluate_button.clicked.connect(self.evaluate_clicked.emit)
        self._connect_edits()
        self.set_settings(default_training())
        self.set_state("idle")

    # -- building ------------------------------------------------------------------------------------------
    @staticmethod
    def _combo(items: list[tuple[str, str]]) -> QComboBox:
        box = QComboBox()
        for key, text in items:
            box.addItem(text, key)
        return box

    @staticmethod
    def _penalty_box() -> QDoubleSpinBox:
        box = QDoubleSpinBox()  # 0 shows "Off"
        box.setRange(0.0, 10.0)
        box.setDecimals(4)
        box.setSingleStep(0.001)
        box.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        box.setSpecialValueText(tr("Off"))
        return box

    def _fill_datasets(self) -> None:
        for name, description in dataset_choices():
            self.dataset.addItem(name, name)
            self.dataset.setItemData(self.dataset.count() - 1, description, Qt.ItemDataRole.ToolTipRole)

    def _connect_edits(self) -> None:
        combos = {"dataset": self.dataset, "loss": self.loss, "optimizer": self.optimizer,
                  "schedule": self.schedule, "backend": self.backend}
        for key, box in combos.items():
            box.currentIndexChanged.connect(lambda _i, k=key, b=box: self._edited(k, b.currentData()))
        self.learning_rate.valueChanged.connect(lambda v: self._edited("learning_rate", float(v)))
        self.batch_size.valueChanged.connect(lambda v: self._edited("batch_size", int(v)))
        self.epochs.valueChanged.connect(lambda v: self._edited("epochs", int(v)))
        self.validation_split.valueChanged.connect(lambda v: self._edited("validation_split", round(float(v), 4)))
        self.seed.valueChanged.connect(lambda v: self._edited("seed", int(v)))
        self.clip_norm.valueChanged.connect(lambda v: self._edited("clip_norm", float(v) if v > 0 else None))
        self.l1.valueChanged.connect(lambda v: self._edited("l1", float(v)))
        self.l2.valueChanged.connect(lambda v: self._edited("l2", float(v)))
        self.augment.toggled.connect(lambda v: self._edited("augment", bool(v)))

    def _edited(self, key: str, value: Any) -> None:
        if not self._loading:
            self.setting_edited.emit(key, value)

    def _open_user_data(self, folder: bool) -> None:
        path = self._choose_data_path(self, folder)
        if path:
            self.select_dataset(USER_PREFIX + path, emit=True)

    # -- showing the project's settings ------------------------------------------------------------------------
    def select_dataset(self, name: str, emit: bool = False) -> None:
        index = self.dataset.findData(name)
        loading, self._loading = self._loading, not emit
        try:
            if index < 0:
                label = name if not name.startswith(USER_PREFIX) else tr("Your data: {path}", path=name[len(USER_PREFIX):])
                self.dataset.addItem(label, name)
                index = self.dataset.count() - 1
            if self.dataset.currentIndex() == index and emit:
                self.setting_edited.emit("dataset", name)
            self.dataset.setCurrentIndex(index)
        finally:
            self._loading = loading

    def set_settings(self, settings: dict[str, Any]) -> None:
        """Show ``settings`` (the project's training section) without announcing them as edits."""
        merged = default_training()
        merged.update(settings or {})
        self._loading = True
        try:
            self.select_dataset(str(merged["dataset"]))
            for key, box in (("loss", self.loss), ("optimizer", self.optimizer), ("schedule", self.schedule),
                             ("backend", self.backend)):
                index = box.findData(merged[key])
                box.setCurrentIndex(max(index, 0))
            self.learning_rate.setValue(float(merged["learning_rate"]))
            self.batch_size.setValue(int(merged["batch_size"]))
            self.epochs.setValue(int(merged["epochs"]))
            self.validation_split.setValue(float(merged["validation_split"]))
            self.seed.setValue(int(merged["seed"]))
            self.augment.setChecked(bool(merged["augment"]))
            self.clip_norm.setValue(float(merged.get("clip_norm") or 0.0))
            for key, box in (("l1", self.l1), ("l2", self.l2)):
                value = merged.get(key) or 0.0
                box.setValue(float(value) if isinstance(value, (int, float)) else 0.0)
        finally:
            self._loading = False

    def settings(self) -> dict[str, Any]:
        """What the form shows now, as a training section."""
        return {"dataset": self.dataset.currentData(), "loss": self.loss.currentData(),
                "optimizer": self.optimizer.currentData(), "learning_rate": float(self.learning_rate.value()),
                "batch_size": int(self.batch_size.value()), "epochs": int(self.epochs.value()),
                "schedule": self.schedule.currentData(), "augment": bool(self.augment.isChecked()),
                "validation_split": round(float(self.validation_split.value()), 4),
                "backend": self.backend.currentData(), "seed": int(self.seed.value()),
                "clip_norm": float(self.clip_norm.value()) or None,
                "l1": float(self.l1.value()), "l2": float(self.l2.value())}

    # -- run state and progress ------------------------------------------------------------------------------
    def set_state(self, state: str) -> None:
        """"idle", "running" or "paused": the settings are fixed while a run goes on."""
        running = state in ("running", "paused")
        self.reset_button.setEnabled(not running)
        self.evaluate_button.setEnabled(not running)
        for widget in (self.dataset, self.open_data, self.loss, self.optimizer, self.learning_rate, self.batch_size,
                       self.epochs, self.schedule, self.augment, self.validation_split, self.backend, self.seed,
                       self.clip_norm, self.l1, self.l2):
            widget.setEnabled(not running)

    def show_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #B91C1C;" if error else "")
        self.status.setText(text)


def _ask_data_path(parent: QWidget, folder: bool = True) -> str | None:
    if folder:
        path = QFileDialog.getExistingDirectory(parent, tr("Open a folder of training data"))
    else:
        path, _ = QFileDialog.getOpenFileName(parent, tr("Open a training data file"), "",
                                              tr("Data files (*.npz *.csv *.gz *-ubyte);;All files (*)"))
    return path or None
