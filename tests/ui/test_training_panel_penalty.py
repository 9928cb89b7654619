"""The Training panel's L1 and L2 rates: shown from the project's settings, edited as settings, fixed while a
run goes on."""
from __future__ import annotations


def test_l1_and_l2_rates_in_the_training_panel(qtbot):
    from nnstudio.ui.training_panel import TrainingPanel
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    assert panel.l1.value() == 0.0 and panel.l1.text() == panel.l1.specialValueText()  # "Off" by default
    panel.set_settings({"dataset": "circle", "l1": 0.003, "l2": 0.02})
    assert panel.l1.value() == 0.003 and panel.l2.value() == 0.02
    edits: list[tuple[str, object]] = []
    panel.setting_edited.connect(lambda key, value: edits.append((key, value)))
    panel.l2.setValue(0.05)
    panel.l1.setValue(0.0)
    assert edits == [("l2", 0.05), ("l1", 0.0)]
    assert panel.settings()["l2"] == 0.05 and panel.settings()["l1"] == 0.0
    panel.set_settings({"l1": "junk"})  # a damaged file shows Off; the Problems panel names the field
    assert panel.l1.value() == 0.0
    panel.set_state("running")
    assert not panel.l1.isEnabled() and not panel.l2.isEnabled()
