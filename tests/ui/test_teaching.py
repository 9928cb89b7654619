"""Teaching tools in the GUI: help cards, Models compared, gradient check, step-through, hints, preferences,
and their installation into the main window.  Screenshots go to /tmp/teaching_*.png for a look."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from nnstudio.graph.catalogue import ACTIVATION_INFO, BLOCKS  # noqa: E402
from nnstudio.graph.document import Graph  # noqa: E402
from nnstudio.graph.project_file import Project, default_training  # noqa: E402
from nnstudio.ui.i18n import set_language  # noqa: E402


@pytest.fixture(autouse=True)
def english():
    set_language("en")
    yield
    set_language("en")


def small_cnn() -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": [1, 28, 28]}, node_id="input", position=(0, 0))
    g.add_node("Conv2D", {"filters": 3, "kernel_size": 5, "padding": 2}, node_id="conv", position=(200, 0))
    g.add_node("Activation", {"function": "relu"}, node_id="relu", position=(400, 0))
    g.add_node("Pool2D", {}, node_id="pool", position=(600, 0))
    g.add_node("Dense", {"units": 10}, node_id="fc", position=(800, 0))
    g.add_node("Activation", {"function": "softmax"}, node_id="sm", position=(1000, 0))
    for a, b in [("input", "conv"), ("conv", "relu"), ("relu", "pool"), ("pool", "fc"), ("fc", "sm")]:
        g.connect(a, b)
    return g


TRAINING = {"dataset": "mnist", "loss": "cross_entropy"}


# -- help cards -------------------------------------------------------------------------------------------

def test_formulas_are_typeset_with_superscripts_and_subscripts():
    from nnstudio.ui.help_card import formula_html
    assert formula_html(ACTIVATION_INFO["sigmoid"].formula) == \
        "σ(<i>z</i>) = 1 / (1 + <i>e</i><sup>−<i>z</i></sup>)"
    softmax = formula_html(ACTIVATION_INFO["softmax"].formula)
    assert "<sup><i>z</i><sub><i>i</i></sub></sup>" in softmax and "Σ<sub><i>j</i></sub>" in softmax
    assert "^" not in softmax and "_" not in softmax and "{" not in softmax
    conv = formula_html(BLOCKS["Conv2D"].formula)
    assert "<br/>" in conv and "<i>H</i><sub>out</sub> = ⌊(<i>H</i> + 2<i>p</i> − <i>k</i>)/<i>s</i>⌋ + 1" in conv
    assert formula_html("f(z) = max(0, z)") == "<i>f</i>(<i>z</i>) = max(0, <i>z</i>)"
    assert formula_html("a < b") == "<i>a</i> &lt; <i>b</i>"


def test_help_card_shows_block_in_both_languages(qtbot):
    from nnstudio.ui.help_card import HelpCard, help_html, tooltip_html
    for block_type, spec in BLOCKS.items():
        en, zh = help_html(block_type, lang="en"), help_html(block_type, lang="zh")
        assert spec.title_en in en and spec.help_en[:30] in en
        assert spec.title_zh in zh and spec.help_zh[:20] in zh
        assert spec.title_en in tooltip_html(block_type, lang="en")
    conv = help_html("Conv2D", {"filters": 6, "kernel_size": 5, "stride": 1, "padding": 2}, lang="en",
                     in_shape=(1, 28, 28))
    assert "1×28×28 → 6×28×28" in conv and "⌊(28 + 2·2 − 5)/1⌋ + 1 = 28" in conv
    pool = help_html("Pool2D", {"mode": "max", "size": 2, "stride": 0}, lang="en", in_shape=(6, 28, 28))
    assert "6×28×28 → 6×14×14" in pool
    card = HelpCard()
    qtbot.addWidget(card)
    card.show_block("Activation", {"function": "relu"})
    text = card.toPlainText()
    assert "ReLU" in text and "Cheap" in text and "Hidden layers of CNNs and MLPs" in text
    set_language("zh")
    card.retranslate()
    assert "计算便宜" in card.toPlainText()


@pytest.mark.parametrize("function, words", [
    ("relu", ["Cheap", "vanishing", "Sparse", "CNNs and MLPs"]),
    ("sigmoid", ["(0, 1)", "probability", "Binary"]),
    ("softmax", ["distribution", "Multi-class".lower()]),
    ("tanh", ["(−1, 1)", "Zero-centred", "RNN"]),
])
def test_activation_cards_state_traits_and_use(function, words):
    from nnstudio.ui.help_card import activation_html
    text = activation_html(function, "en")
    for word in words:
        assert word.lower() in text.lower(), (function, word)


# -- models compared --------------------------------------------------------------------------------------

def test_models_compared_page_lists_five_models_and_opens_examples(qtbot):
    from nnstudio.ui.models_compared_page import ModelsComparedDialog
    dialog = ModelsComparedDialog()
    qtbot.addWidget(dialog)
    text = dialog.browser.toPlainText()
    for name in ("Linear regression", "Logistic regression", "Softmax regression", "Perceptron",
                 "Multi-layer perceptron"):
        assert name in text
    for aspect in ("Task", "Output", "Loss", "decision boundary", "relates"):
        assert aspect in text
    html_text = dialog.browser.toHtml()
    assert html_text.count("example:") == 5
    from PySide6.QtCore import QUrl
    with qtbot.waitSignal(dialog.open_example) as blocker:
        dialog.browser.anchorClicked.emit(QUrl("example:perceptron"))
    assert blocker.args == ["perceptron"]
    set_language("zh")
    dialog.retranslate()
    assert "感知机" in dialog.browser.toPlainText() and "逻辑回归" in dialog.browser.toPlainText()


# -- gradient check ---------------------------------------------------------------------------------------

def test_gradcheck_panel_runs_in_a_thread_and_colours_rows(qtbot, tmp_path):
    from nnstudio.ui.gradcheck_panel import PASS_COLOUR, GradCheckPanel
    graph = small_cnn()
    panel = GradCheckPanel(lambda: (graph, TRAINING))
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.finished, timeout=60000) as blocker:
        assert panel.run_check()
        assert panel.is_running() and not panel.run_button.isEnabled()
    result = blocker.args[0]
    assert result.passed and result.source == "mnist"
    assert [(r.node_id, r.param) for r in result.rows] == [("conv", "W"), ("conv", "b"), ("fc", "W"), ("fc", "b")]
    assert panel.table.rowCount() == 4
    assert panel.table.item(0, 4).text() == "pass"
    assert panel.table.item(0, 4).foreground().color().name().upper() == PASS_COLOUR.upper()
    assert "All 4 gradients agree" in panel.status.text()
    qtbot.waitUntil(lambda: not panel.is_running())
    panel.resize(640, 320)
    assert panel.grab().save(str(tmp_path / "gradcheck.png"))


def test_gradcheck_panel_reports_invalid_network(qtbot):
    from nnstudio.ui.gradcheck_panel import GradCheckPanel
    g = Graph()
    g.add_node("Input", {"shape": [2]}, node_id="x")
    g.add_node("Dense", {"units": 2}, node_id="d")  # not connected
    panel = GradCheckPanel(lambda: (g, {"loss": "mse"}))
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.failed, timeout=30000):
        panel.run_check()
    assert "Cannot check" in panel.status.text()
    qtbot.waitUntil(lambda: not panel.is_running())
    empty = GradCheckPanel(lambda: (None, None))
    qtbot.addWidget(empty)
    assert not empty.run_check() and "Open or build" in empty.status.text()


# -- step-through -----------------------------------------------------------------------------------------

def test_stepper_panel_focuses_each_node_forward_then_backward(qtbot):
    from nnstudio.ui.stepper_panel import StepperPanel
    graph = small_cnn()
    panel = StepperPanel(lambda: (graph, TRAINING))
    qtbot.addWidget(panel)
    focused: list[str] = []
    panel.node_focused.connect(focused.append)
    assert panel.start()
    assert focused == ["input"] and "Forward" in panel.title.text()
    assert not panel.heatmap.pixmap().isNull()
    panel.finish_phase()  # to the first backward step
    assert panel.current.phase == "backward" and panel.current.node_id == "sm"
    assert "p − t" in panel.explain.text()
    steps = panel.run_to_end()
    order = ["input", "conv", "relu", "pool", "fc", "sm"]
    assert focused == order + order[::-1] + ["conv", "fc"]
    assert [s.phase for s in steps] == ["forward"] * 6 + ["backward"] * 6 + ["update"] * 2
    assert panel.updates.rowCount() == 2 and panel.updates.item(1, 0).text() == "fc"
    assert not panel.next_button.isEnabled()
    assert "After the update" in panel.explain.text()
    assert panel.stepper.loss_after < panel.stepper.loss_value  # lr 0.1 on one batch lowers its loss


def test_heatmap_image_colours_values():
    from nnstudio.ui.stepper_panel import DIVERGING, heatmap_image
    img = heatmap_image(np.array([[-1.0, 0.0, 1.0]]), diverging=True)
    assert (img.width(), img.height()) == (3, 1)
    left, mid = img.pixelColor(0, 0), img.pixelColor(1, 0)
    assert (left.red(), left.green(), left.blue()) == tuple(DIVERGING[0])
    assert mid.blue() < 60  # zero is dark
    flat = heatmap_image(np.full((2, 2), np.nan), diverging=False)
    assert flat.width() == 2


# -- hints ------------------------------------------------------------------------------------------------

class Hint:  # the shape of the trainer's Hint event
    def __init__(self, message, fix=None):
        self.message, self.fix = message, fix


def test_plan_and_describe_fixes():
    from nnstudio.errors import UserError
    from nnstudio.ui.hints_panel import describe_fix, plan_fix
    actions = plan_fix({"learning_rate": 0.0001, "insert": {"type": "Dropout", "after": "fc", "params": {"rate": 0.3}}})
    assert [a.kind for a in actions] == ["setting", "insert"]
    # named as the panels name them, not by the project file's keys (learning_rate, clip_norm, cross_entropy)
    assert describe_fix({"learning_rate": 0.0001}) == "Set Learning rate to 0.0001"
    assert describe_fix({"learning_rate": 0.1, "clip_norm": 1.0}) == \
        "Set Learning rate to 0.1; set Gradient clipping to 1"
    assert describe_fix({"loss": "cross_entropy"}) == "Set Loss to Cross-entropy"
    assert describe_fix({"nodes": {"out": {"function": "softmax"}}, "reset_weights": True}) == \
        "Set Function of out to Softmax"
    from nnstudio.ui.i18n import set_language
    set_language("zh")
    try:
        chinese = describe_fix({"learning_rate": 0.1, "clip_norm": 1.0, "loss": "cross_entropy"})
    finally:
        set_language("en")
    assert "learning_rate" not in chinese and "clip_norm" not in chinese and "Learning" not in chinese, chinese
    assert "Insert Dropout after fc" == describe_fix({"insert_after": "fc", "block": "Dropout"})
    with pytest.raises(UserError):
        plan_fix({"insert": {"type": "NoSuchBlock", "after": "fc"}})
    with pytest.raises(UserError):
        plan_fix(None)
    # The trainer's convention (nnstudio.training.events.Hint): settings, "nodes" and a list of inserts.
    trainer_fix = {"learning_rate": 0.001, "clip_norm": 1.0, "nodes": {"out": {"function": "softmax"}},
                   "insert": [{"type": "Dropout", "params": {"rate": 0.3}, "after": "d1"}]}
    kinds = [(a.kind, a.key or a.block) for a in plan_fix(trainer_fix)]
    assert kinds == [("setting", "learning_rate"), ("setting", "clip_norm"), ("insert", "Dropout"),
                     ("param", "function")]


def test_hints_panel_applies_fixes_as_one_undoable_step(window, qtbot):
    from nnstudio.ui.hints_panel import HintsPanel
    training = dict(default_training(), dataset="mnist", learning_rate=0.5)
    window.set_project(Project(name="cnn", graph=small_cnn(), training=training))
    panel = HintsPanel(window)
    qtbot.addWidget(panel)
    panel.add_hint(Hint("The loss is growing: the learning rate is too high.", {"learning_rate": 0.001}))
    panel.add_hint(Hint("Training accuracy is far above validation accuracy: the network overfits.",
                        {"insert": {"type": "Dropout", "after": "pool", "params": {"rate": 0.25}}}))
    panel.add_hint(Hint("The loss is growing: the learning rate is too high.", {"learning_rate": 0.001}))
    panel.add_hint(Hint("Just so you know."))
    panel.add_hint(Hint("The output should be a probability distribution.", {"nodes": {"sm": {"function": "sigmoid"}}}))
    assert len(panel.cards) == 4
    assert panel.cards[1].apply_button.isHidden()
    assert panel.apply(panel.cards[0])
    assert window.project.graph.nodes["sm"].params["function"] == "sigmoid"
    window.undo_stack.undo()
    assert window.project.graph.nodes["sm"].params["function"] == "softmax"
    dropout_card, lr_card = panel.cards[2], panel.cards[3]
    assert "Set Learning rate to 0.001" in lr_card.fix_label.text()
    assert panel.apply(lr_card)
    assert window.project.training["learning_rate"] == 0.001
    assert panel.apply(dropout_card)
    graph = window.project.graph
    new = [n for n in graph.nodes.values() if n.type == "Dropout"]
    assert len(new) == 1 and new[0].params["rate"] == 0.25
    assert graph.inputs_of(new[0].id) == ["pool"] and graph.inputs_of("fc") == [new[0].id]
    window.undo_stack.undo()
    assert not any(n.type == "Dropout" for n in graph.nodes.values()) and graph.inputs_of("fc") == ["pool"]
    window.undo_stack.undo()
    assert window.project.training["learning_rate"] == 0.5
    panel.clear()
    assert panel.cards == [] and not panel.empty.isHidden()


# -- preferences --------------------------------------------------------------------------------------------

def test_preferences_switch_language_and_font(qtbot, monkeypatch):
    from PySide6.QtWidgets import QApplication
    from nnstudio.ui import preferences as prefs
    from nnstudio.ui.i18n import current_language
    from nnstudio.ui.settings import make_settings
    settings = make_settings()
    assert prefs.stored_language(settings) == ""
    assert prefs.effective_language(settings) == "en"  # NNSTUDIO_LANG=en in the tests
    monkeypatch.setenv("NNSTUDIO_LANG", "zh")
    assert prefs.effective_language(settings) == "zh"  # follows the system by default
    monkeypatch.setenv("NNSTUDIO_LANG", "en")
    dialog = prefs.PreferencesDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.language.count() == 3 and dialog.language.itemText(2) == "简体中文"
    changed: list[str] = []
    dialog.language_changed.connect(changed.append)
    dialog.language.setCurrentIndex(dialog.language.findData("zh"))
    dialog.accept()
    assert changed == ["zh"] and current_language() == "zh"
    assert prefs.stored_language(make_settings()) == "zh"
    family = prefs.cjk_font_family()
    assert family is not None, "a CJK font (Debian fonts-noto-cjk) must be installed"
    assert QApplication.font().families()[0] == family
    assert prefs.apply_language() == "zh"
    from PySide6.QtWidgets import QDialogButtonBox
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
    qtbot.addWidget(box)
    assert box.button(QDialogButtonBox.StandardButton.Cancel).text().replace("&", "") != "Cancel"  # Qt's own texts
    prefs.store_language("en")
    assert prefs.apply_language() == "en" and family not in QApplication.font().families()
    with pytest.raises(ValueError):
        prefs.store_language("fr")


# -- installation -------------------------------------------------------------------------------------------

def test_install_teaching_adds_docks_and_menus(window, qtbot):
    from nnstudio.ui.teaching_controller import install_teaching
    window.set_project(Project(name="cnn", graph=small_cnn(), training=dict(default_training(), dataset="mnist")))
    controller = install_teaching(window)
    assert window.teaching_controller is controller
    for name in ("gradient_check", "step_through", "hints"):
        assert name in window.docks
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles.index("&Learn") == titles.index("&Help") - 1
    help_texts = [a.text() for a in window.help_menu.actions()]
    assert "&Models compared…" in help_texts
    assert "&Preferences…" in [a.text() for a in window.edit_menu.actions()]
    controller.actions["step"].trigger()
    assert window.docks["step_through"].isVisible()
    controller.stepper.start()
    assert window.scene.selected_node_ids() == ["input"]  # the editor follows the step
    controller.stepper.next_step()
    assert window.scene.selected_node_ids() == ["conv"]
    # ... and the panel stays in front: the Inspector, a tab beside it, comes forward only from behind History,
    # the Training panel or the scrubber (it hid the stepper at each step)
    qtbot.wait(20)
    assert not window.docks["step_through"].visibleRegion().isEmpty()
    dialog = controller.show_models_compared()
    assert dialog.isVisible()
    assert not controller.open_example("no_such_example")
    assert controller.open_example("perceptron-and")  # the link on the page opens the example project
    assert "sign" in [n.params.get("function") for n in window.project.graph.nodes.values()]
    window.set_project(Project(name="cnn", graph=small_cnn(), training=dict(default_training(), dataset="mnist")))
    with qtbot.waitSignal(controller.gradcheck.finished, timeout=60000):
        controller.actions["gradcheck"].trigger()
    qtbot.waitUntil(lambda: not controller.gradcheck.is_running())
    assert controller.gradcheck.result.passed


def test_hints_reach_the_panel_through_the_training_controller(window):
    from nnstudio.ui.teaching_controller import install_teaching
    from nnstudio.ui.training_controller import install_training
    window.set_project(Project(name="cnn", graph=small_cnn(), training=dict(default_training(), dataset="mnist")))
    training = install_training(window)
    teaching = install_teaching(window)
    from nnstudio.training.events import Hint as TrainerHint
    training._hint(TrainerHint("vanishing", "conv", "Gradients of conv are vanishing.", {"learning_rate": 0.01}))
    assert len(teaching.hints.cards) == 1
    assert teaching.hints.cards[0].message.text() == "Gradients of conv are vanishing."
    assert teaching.hints.apply(teaching.hints.cards[0])
    assert window.project.training["learning_rate"] == 0.01
    assert window.docks["hints"].isVisible()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_learn_panels_fit_a_narrow_column(qtbot, lang):
    """In the right-hand column of a 1024x768 window (about 320 pixels) Step through cut "Finish" and the learning
    rate off at its edge, and Gradient check showed its button as "dien"; their controls now wrap."""
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QScrollArea

    from nnstudio.ui.gradcheck_panel import GradCheckPanel
    from nnstudio.ui.i18n import set_language
    from nnstudio.ui.stepper_panel import StepperPanel
    set_language(lang)
    try:
        graph = small_cnn()
        for panel in (StepperPanel(lambda: (graph, TRAINING)), GradCheckPanel(lambda: (graph, TRAINING))):
            qtbot.addWidget(panel)
            panel.resize(320, 420)
            panel.show()
            qtbot.wait(30)
            scroll = panel.findChild(QScrollArea)
            assert scroll is not None and not scroll.horizontalScrollBar().isVisible(), type(panel).__name__
            for control in panel.findChildren(QAbstractButton) + panel.findChildren(QAbstractSpinBox):
                if control.isVisible() and control.parent() is not None and not control.objectName().startswith("qt_"):
                    right = control.mapTo(scroll.viewport(), control.rect().topRight()).x()
                    assert right <= scroll.viewport().width(), (type(panel).__name__, control.text()
                                                                if hasattr(control, "text") else control)
                    assert control.width() >= control.minimumSizeHint().width(), control
    finally:
        set_language("en")
