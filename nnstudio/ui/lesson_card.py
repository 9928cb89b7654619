"""The lesson card: what the open example teaches, what to watch, what to try next, and a check that turns green.

Opening a project that carries a lesson (the curriculum examples do; see :mod:`nnstudio.teaching.lessons`)
shows the card in the "Lesson" dock, tabbed with the block palette on the left, where it has the height of
the window even at 1024x768.  The card listens to the training controller: ``run_starting`` forgets the last
run's hints, ``hint_received`` collects the hints a goal may ask for (that check turns green as soon as the hint
appears), and ``run_finished`` judges the run with :func:`~nnstudio.teaching.lessons.check_goal`, the same
judge ``tools/check_examples.py`` uses.  The texts follow the interface language.
"""
from __future__ import annotations

from html import escape
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget
from shiboken6 import isValid

from nnstudio.teaching.lessons import HINT_NAMES, GoalResult, Lesson, RunOutcome, check_goal, chapter, lesson_of
from nnstudio.ui import i18n
from nnstudio.ui.i18n import current_language, pick, tr

PENDING, MET, MISSED = "pending", "met", "missed"
_COLOURS = {PENDING: ("#2B303B", "#C9CED8", "#3A3F4B"), MET: ("#17381F", "#7EE787", "#2EA043"),
            MISSED: ("#3A2A17", "#F2CC60", "#9E6A03")}


class LessonCard(QWidget):
    """Shows one :class:`Lesson` (or nothing) and the state of its check."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lessonCard")
        self.lesson: Lesson | None = None
        self.project_name = ("", "")  # (English, Chinese)
        self.state = PENDING
        self.result: GoalResult | None = None
        self.title = QLabel()
        self.title.setObjectName("lessonTitle")
        self.chapter = QLabel()
        self.chapter.setObjectName("lessonChapter")
        self.check = QLabel()
        self.check.setObjectName("lessonCheck")
        self.goal = QLabel()
        self.goal.setObjectName("lessonGoal")
        self.watch = QLabel()
        self.watch.setObjectName("lessonWatch")
        self.next = QLabel()
        self.next.setObjectName("lessonNext")
        self.empty = QLabel()
        self.empty.setObjectName("lessonEmpty")
        for label in (self.title, self.chapter, self.check, self.goal, self.watch, self.next, self.empty):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # wrap, never widen
        self.check.setMargin(6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        for label in (self.title, self.chapter, self.check, self.goal, self.watch, self.next, self.empty):
            layout.addWidget(label)
        layout.addStretch(1)
        self.retranslate()

    # -- content ----------------------------------------------------------------------------------------
    def set_lesson(self, lesson: Lesson | None, name_en: str = "", name_zh: str = "") -> None:
        self.lesson = lesson
        self.project_name = (name_en, name_zh)
        self.state, self.result = PENDING, None
        self.retranslate()

    def set_result(self, state: str, result: GoalResult | None) -> None:
        self.state, self.result = state, result
        self._show_check()

    def retranslate(self) -> None:
        lesson, lang = self.lesson, current_language()
        has = lesson is not None
        for label in (self.title, self.chapter, self.check, self.goal, self.watch, self.next):
            label.setVisible(has)
        self.empty.setVisible(not has)
        self.empty.setText(escape(tr("Open an example from the gallery (File > New from example) to see its "
                                     "lesson here: its goal, what to watch and what to try next.")))
        if lesson is None:
            return
        self.title.setText(f"<b style='font-size:115%'>{escape(pick(*self.project_name))}</b>")
        self.chapter.setText(f"<span style='color:#9AA3B2'>{escape(chapter(lesson.chapter).title(lang))}</span>")
        self.goal.setText(self._section(tr("Goal"), lesson.text("goal", lang)))
        self.watch.setText(self._section(tr("What to watch"), lesson.text("watch", lang)))
        self.next.setText(self._section(tr("Try next"), lesson.text("next", lang)))
        self._show_check()

    @staticmethod
    def _section(heading: str, text: str) -> str:
        return f"<b>{escape(heading)}</b><br>{escape(text)}"

    def _show_check(self) -> None:
        lesson = self.lesson
        if lesson is None or lesson.check is None:
            self.check.setVisible(False)
            return
        self.check.setVisible(True)
        goal = escape(lesson.check.describe(current_language()))
        if self.state == MET:
            head = "\u2714 " + escape(tr("Goal met"))
        elif self.state == MISSED:
            head = "\u2716 " + escape(tr("Not yet: train again or try the next step"))
        else:
            head = "\u25CB " + escape(tr("Check: train to see whether the goal is met"))
        text = f"<b>{head}</b><br>{goal}"
        if self.result is not None and self.result.measured:
            text += "<br>" + escape(tr("Last run: {measured}", measured=self._measured(self.result.measured)))
        self.check.setText(text)
        background, colour, border = _COLOURS.get(self.state, _COLOURS[PENDING])
        self.check.setStyleSheet(f"QLabel#lessonCheck {{ background: {background}; color: {colour}; "
                                 f"border: 1px solid {border}; border-radius: 4px; }}")

    @staticmethod
    def _measured(measured: str) -> str:
        """The judge's words in the interface language (it reports ``hints: a, b`` and ``reason: message``)."""
        if measured.startswith("hints: "):
            kinds = [k.strip() for k in measured[len("hints: "):].split(",") if k.strip() not in ("", "none")]
            zh = current_language() == "zh"
            names = [HINT_NAMES[k][1 if zh else 0] if k in HINT_NAMES else k for k in kinds]
            return tr("hints: {kinds}", kinds=("、" if zh else ", ").join(names) if names else tr("none"))
        return measured


class LessonController(QObject):
    """Keeps the Lesson dock in step with the open project and the training runs."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.card = LessonCard()
        self.hint_kinds: set[str] = set()
        self.running = False
        self._unlisten: Callable[[], None] | None = None

    def install(self) -> "LessonController":
        w = self.window
        scroller = QScrollArea()
        scroller.setObjectName("lessonScroll")
        scroller.setWidget(self.card)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroller.setMinimumSize(180, 80)
        self.dock = w.add_dock(scroller, tr("Lesson"), Qt.DockWidgetArea.LeftDockWidgetArea, "lesson")
        palette = w.docks.get("palette")
        if palette is not None:
            w.tabifyDockWidget(palette, self.dock)
            palette.raise_()
        w.project_opened.connect(self.project_opened)
        training = getattr(w, "training", None)
        if training is not None:
            training.run_starting.connect(self.run_starting)
            training.hint_received.connect(self.hint_received)
            training.run_finished.connect(self.run_finished)
        listen = getattr(i18n, "add_language_listener", None)  # live language switching, where the app has it
        if callable(listen):
            self._unlisten = listen(self._language_changed)
            w.destroyed.connect(self._unlisten)  # a plain function: it runs while the window goes away
        return self

    def _language_changed(self, _lang: str = "") -> None:
        if not isValid(self) or not isValid(self.dock) or not isValid(self.card):
            return  # the window has closed; its listener is being removed
        self.dock.setWindowTitle(tr("Lesson"))
        self.card.retranslate()

    def retranslate(self) -> None:
        self._language_changed()

    # -- events -------------------------------------------------------------------------------------------
    def project_opened(self, project: Any) -> None:
        lesson = lesson_of(project)
        self.hint_kinds.clear()
        self.running = False
        self.card.set_lesson(lesson, getattr(project, "name", ""), getattr(project, "name_zh", ""))
        if lesson is not None:
            self.dock.show()
            self.dock.raise_()
            # A project reopened after training: its last kept run is judged (the card said "train to see
            # whether the goal is met" beside a run history that showed the goal met).
            runs = getattr(getattr(getattr(self.window, "runs", None), "panel", None), "runs", None) or []
            if lesson.check is not None and runs:
                self.judge_stored_run(runs[-1])

    def judge_stored_run(self, run: Any) -> None:
        """Judge the lesson's goal from a run of the history (its run.json: how it ended, its test figures and
        the kinds of hints it showed)."""
        lesson = self.card.lesson
        if lesson is None or lesson.check is None:
            return
        meta = getattr(run, "meta", {}) or {}
        metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}

        def number(key: str) -> float | None:
            value = metrics.get(key)
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        outcome = RunOutcome(str(meta.get("end_reason") or "error"), str(meta.get("message") or ""),
                             number("test_acc"), {"r2": r2} if (r2 := number("test_r2")) is not None else {})
        hints = meta.get("hints") if isinstance(meta.get("hints"), list) else []
        kinds = {str(h["kind"]) for h in hints if isinstance(h, dict) and h.get("kind")}
        judged = check_goal(lesson.check, outcome, kinds)
        self.card.set_result(MET if judged.met else MISSED, judged)

    def run_starting(self, _continuing: bool = False) -> None:
        self.hint_kinds.clear()
        self.running = True

    def hint_received(self, event: Any) -> None:
        kind = getattr(event, "kind", None)
        if not kind:
            return
        self.hint_kinds.add(str(kind))
        lesson = self.card.lesson
        if lesson is not None and lesson.check is not None and lesson.check.metric == "hint":
            result = check_goal(lesson.check, RunOutcome("running"), self.hint_kinds)
            if result.met:
                self.card.set_result(MET, result)

    def run_finished(self, result: Any) -> None:
        self.running = False
        lesson = self.card.lesson
        if lesson is None or lesson.check is None:
            return
        finished = getattr(result, "finished", None)
        outcome = RunOutcome.from_finished(finished) if finished is not None else RunOutcome("error")
        outcome.reason = str(getattr(result, "reason", outcome.reason))  # the session's word on how it ended
        outcome.message = str(getattr(result, "message", "") or outcome.message)
        judged = check_goal(lesson.check, outcome, self.hint_kinds)
        self.card.set_result(MET if judged.met else MISSED, judged)


def install_lessons(main_window: Any) -> LessonController:
    """Add the Lesson dock to ``main_window`` (after training: it listens to the runs)."""
    controller = LessonController(main_window).install()
    main_window.lessons = controller
    return controller
