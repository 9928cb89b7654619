"""Lay out the example projects' nodes the way the editor's Auto-layout does (bands of five columns).

Run after editing an example's graph: ``python tools/layout_examples.py`` rewrites node positions in
resources/examples/*.json (nothing else in the files changes), so examples open tidy and readable.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnstudio.graph.project_file import load_project, save_project  # noqa: E402
from nnstudio.ui.editor.scene import layout_positions  # noqa: E402  (pure layout math; Qt is importable)


def main() -> int:
    for path in sorted((ROOT / "resources" / "examples").glob("*.json")):
        project = load_project(path)
        for node_id, (x, y) in layout_positions(project.graph).items():
            project.graph.move_node(node_id, (round(x), round(y)))
        save_project(project, path)
        json.loads(path.read_text(encoding="utf-8"))
        print(f"laid out {path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
