"""View > Layer costs: badges on the cards and a sortable table, recounted on every edit, timed on request."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from nnstudio.graph.project_file import Project
from nnstudio.ui.profile_dock import COLUMNS
from tests.test_profile import lenet5


@pytest.fixture
def costs(window):
    window.set_project(Project(name="LeNet-5", graph=lenet5()))
    controller = window.profile
    controller.action.trigger()  # View > Layer costs
    assert controller.enabled and controller.dock.isVisible()
    return controller


def column(table, title: str) -> list[str]:
    j = [t for t, _ in COLUMNS].index(title)
    return [table.item(i, j).text() for i in range(table.rowCount())]


def test_table_shows_every_node_with_a_total_and_the_largest_highlighted(costs, window) -> None:
    table = costs.view.table
    nodes = column(table, "Node")
    assert nodes[-1] == "Total" and len(nodes) == 15
    assert nodes[0] == "c3"  # sorted by MACs, largest first
    assert table.item(0, 0).background().color().name() != table.item(1, 0).background().color().name()
    assert column(table, "MACs")[-1] == "416,520" and column(table, "Parameters")[-1] == "61,706"
    assert column(table, "Share")[0] == f"{240_000 / 416_520:.1%}"
    # Sorting by node name keeps the total at the bottom
    table.horizontalHeader().sectionClicked.emit(0)
    nodes = column(table, "Node")
    assert nodes[:-1] == sorted(nodes[:-1], key=str.casefold) and nodes[-1] == "Total"
    # Badges: on every card, the largest marked
    items = window.scene.node_items
    assert items["c3"].cost_text.startswith("240k MACs (58%)") and items["c3"].cost_largest
    assert items["f5"].cost_text.startswith("48k MACs") and not items["f5"].cost_largest
    assert items["a1"].cost_text == "1.1 MiB"  # 4,704 values x 4 bytes x batch 64


def test_counts_follow_every_edit_and_turning_off_removes_the_badges(costs, window, qtbot) -> None:
    window.graph.set_param("f5", "units", 60)
    qtbot.waitUntil(lambda: costs.profile.row("f5").macs == 400 * 60, timeout=2000)
    assert costs.view.table.item(costs.view.table.rowCount() - 1, 3).text() == f"{416_520 - 24_000 - 5_040:,}"
    costs.view.batch_spin.setValue(8)
    qtbot.waitUntil(lambda: costs.profile.batch == 8, timeout=2000)
    costs.action.trigger()
    assert not costs.enabled and not costs.dock.isVisible()
    assert all(item.cost_text == "" for item in window.scene.node_items.values())


def test_measure_times_fills_the_time_columns_without_blocking(costs, qtbot) -> None:
    costs.view.batch_spin.setValue(2)
    qtbot.waitUntil(lambda: costs.profile.batch == 2, timeout=2000)
    costs.view.measure_button.click()
    assert not costs.view.measure_button.isEnabled()  # running in its thread
    qtbot.waitUntil(lambda: costs.view.measure_button.isEnabled(), timeout=30_000)
    assert costs.profile.backend is not None
    forward = column(costs.view.table, "Forward ms")
    assert all(text != "–" for text in forward)
    costs.view.sort_by(5, Qt.SortOrder.DescendingOrder)
    values = [float(v) for v in column(costs.view.table, "Forward ms")[:-1]]
    assert values == sorted(values, reverse=True)


def test_a_language_change_retranslates_the_table_and_badges(costs, window) -> None:
    from nnstudio.i18n import set_language

    try:
        set_language("zh")
        costs.view.retranslate()
        header = costs.view.table.horizontalHeaderItem(0).text()
        assert header == "节点"
        types = column(costs.view.table, "Type")
        assert types[0] == "二维卷积层" and "全连接层" in types  # the blocks as the cards name them in Chinese
        assert "次乘加" in window.scene.node_items["c3"].cost_text
    finally:
        set_language("en")
        costs.view.retranslate()
    assert costs.view.table.horizontalHeaderItem(0).text() == "Node"
    assert column(costs.view.table, "Type")[0] == "Conv2D"


def test_a_batch_too_large_to_time_is_refused_before_it_fills_the_memory(costs, qtbot, monkeypatch) -> None:
    from nnstudio import memory
    from nnstudio.ui import profile_dock
    timed = []
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)  # 1 MiB free
    monkeypatch.setattr(profile_dock, "measure_times", lambda *a, **k: timed.append(a))
    costs.view.batch_spin.setValue(4096)
    qtbot.waitUntil(lambda: costs.profile.batch == 4096, timeout=2000)
    costs.view.measure_button.click()
    qtbot.waitUntil(lambda: costs.view.measure_button.isEnabled(), timeout=10_000)
    assert costs.view.status.text() == "Not enough memory to time a batch of 4096"
    assert not timed
