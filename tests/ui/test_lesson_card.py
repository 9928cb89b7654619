"""The lesson card: opening an example shows its lesson beside the editor, in the interface language, readable at
1024x768 and 1920x1080, and its check turns green when a run meets the goal (and says so when it does not)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QWidget

from nnstudio.graph.project_file import Project
from nnstudio.resources_path import resource
from nnstudio.ui.lesson_card import MET, MISSED, PENDING

SIZES = [(1024, 768), (1920, 1080)]


def inside(widget: QWidget, window: QWidget) -> bool:
    top_left = widget.mapTo(window, QPoint(0, 0))
    return (top_left.x() >= 0 and top_left.y() >= 0 and top_left.x() + widget.width() <= window.width()
            and top_left.y() + widget.height() <= window.height())


def train_to_end(qtbot, window):
    done = []
    window.training.run_finished.connect(done.append)
    assert window.training.train(), window.training.panel.status.text()
    qtbot.waitUntil(lambda: bool(done), timeout=60000)
    return done[0]


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_opening_an_example_shows_its_lesson_and_a_run_turns_the_check_green(window, qtbot, size, lang):
    from nnstudio.ui.i18n import set_language, tr
    set_language(lang)
    try:
        window.lessons.retranslate()
        window.resize(size[0], size[1] - 30)
        qtbot.wait(50)
        before = window.size()
        assert window.open_example(resource("examples", "perceptron-and.json"))
        card, dock = window.lessons.card, window.lessons.dock
        qtbot.wait(50)
        assert dock.isVisible() and inside(dock, window)
        assert dock.windowTitle() == tr("Lesson") and _chinese(dock.windowTitle()) == (lang == "zh")
        assert card.state == PENDING
        for label in (card.title, card.check, card.goal):
            assert label.isVisible() and label.text(), label.objectName()
            assert inside(label.parentWidget().parentWidget(), window)  # the scroll area's viewport
        assert card.goal.width() >= 150, "the card must be wide enough to read"
        assert _chinese(card.goal.text() + card.watch.text() + card.next.text()) == (lang == "zh")
        assert "100%" in card.check.text()
        result = train_to_end(qtbot, window)
        assert result.ok
        assert card.state == MET, card.check.text()
        assert "\u2714" in card.check.text() and "#7EE787" in card.check.styleSheet()  # green
        met = tr("Goal met")
        assert met in card.check.text() and _chinese(met) == (lang == "zh")
        QApplication.processEvents()
        assert window.size() == before
        window.training.weights_saved = True
    finally:
        set_language("en")
        window.lessons.retranslate()


def test_a_run_that_misses_the_goal_says_so_and_the_next_run_can_meet_it(window, qtbot):
    assert window.open_example(resource("examples", "mlp-xor.json"))
    card = window.lessons.card
    window.project.training.set("epochs", 1)  # one epoch cannot solve XOR
    assert train_to_end(qtbot, window).ok
    assert card.state == MISSED and "Not yet" in card.check.text() and "Last run:" in card.check.text()
    window.project.training.set("epochs", 300)
    window.training.reset_weights()
    assert train_to_end(qtbot, window).ok
    assert card.state == MET, card.check.text()
    window.training.weights_saved = True


def test_a_hint_goal_turns_green_when_the_hint_appears(window, qtbot):
    assert window.open_example(resource("examples", "vanishing-gradients.json"))
    controller = window.lessons
    controller.run_starting(False)
    controller.hint_received(type("Hint", (), {"kind": "dead_relu"})())
    assert controller.card.state == PENDING
    controller.hint_received(type("Hint", (), {"kind": "vanishing_gradients"})())
    assert controller.card.state == MET
    assert "vanishing gradients" in controller.card.check.text()
    assert "Last run: hints: dead ReLUs, vanishing gradients" in controller.card.check.text()  # names, not ids


def test_the_nan_goal_is_met_by_a_nan_stop(window, qtbot):
    assert window.open_example(resource("examples", "exploding-gradients.json"))
    result = train_to_end(qtbot, window)
    assert result.reason == "nan"
    assert window.lessons.card.state == MET, window.lessons.card.check.text()


def test_a_project_without_a_lesson_shows_the_invitation_and_the_language_follows(window, qtbot):
    from nnstudio.ui.i18n import set_language
    window.set_project(Project(name="mine"))
    card = window.lessons.card
    assert card.lesson is None and not card.check.isVisibleTo(card) and card.empty.isVisibleTo(card)
    assert "New from example" in card.empty.text()
    assert window.open_example(resource("examples", "vanishing-gradients.json"))
    assert "Gradients panel" in card.watch.text()
    set_language("zh")
    try:
        window.lessons.retranslate()
        assert "梯度" in card.watch.text() and "梯度消失" in card.title.text()
        assert _chinese(card.chapter.text()) and _chinese(card.check.text())
    finally:
        set_language("en")
        window.lessons.retranslate()
    assert "Vanishing gradients" in card.title.text()


def test_the_card_follows_a_language_change_at_once(window, qtbot):
    """Preferences switches the language live: the card and its dock title follow without a restart."""
    from nnstudio.ui.i18n import set_language
    assert window.open_example(resource("examples", "mnist-cnn.json"))
    card = window.lessons.card
    assert not _chinese(card.goal.text())
    set_language("zh")
    try:
        assert _chinese(card.goal.text()) and _chinese(card.check.text())
        assert _chinese(window.lessons.dock.windowTitle())
    finally:
        set_language("en")
    assert not _chinese(card.goal.text()) and window.lessons.dock.windowTitle() == "Lesson"


def trained_xor_saved(window, qtbot, folder):
    """The mlp-xor example saved as a project of its own in ``folder``, trained and saved again: its path."""
    assert window.open_example(resource("examples", "mlp-xor.json"))
    path = folder / "xor.nnproj"
    assert window.save_as(path)
    assert train_to_end(qtbot, window).ok
    assert window.save()
    return path


def test_a_reopened_project_shows_how_its_last_run_met_the_goal(window, qtbot, tmp_path):
    """Saved after training and opened again, the card said "train to see whether the goal is met" while the
    Runs panel showed the run at 100 %."""
    path = trained_xor_saved(window, qtbot, tmp_path)
    card = window.lessons.card
    assert card.state == MET
    assert window.open_example(resource("examples", "perceptron-and.json"))
    assert card.state == PENDING
    assert window.open_project(path)
    assert card.state == MET, card.check.text()
    assert "Last run: 100.00%" in card.check.text()
    # a last run that fell short says so too
    window.project.training.set("epochs", 1)
    window.training.reset_weights()
    assert train_to_end(qtbot, window).ok
    window.undo_stack.setClean()
    window.training.weights_saved = True
    assert window.open_example(resource("examples", "perceptron-and.json"))
    assert window.open_project(path)
    assert card.state == MISSED and "Not yet" in card.check.text()
    window.training.weights_saved = True


def test_a_reopened_trained_project_draws_its_boundary_and_neurons(window, qtbot, tmp_path):
    """Reopened after training, mlp-xor showed its four points on an empty plane and the neuron view's "appears
    here while it trains" until it was trained again."""
    path = trained_xor_saved(window, qtbot, tmp_path)
    board = window.training.dashboard
    trained = board.boundary.boundary.values.copy()
    assert window.open_example(resource("examples", "perceptron-and.json"))
    assert board.boundary.boundary is None
    assert window.open_project(path)
    qtbot.waitUntil(lambda: board.boundary.boundary is not None and board.neurons.neurons is not None,
                    timeout=5000)
    assert board.boundary.boundary.values == pytest.approx(trained, abs=1e-4)  # the saved weights' own answer
    board.redraw_all()
    assert board.neurons.title_label.toolTip().startswith("Saved weights:")  # no run, so no step
    window.training.weights_saved = True
