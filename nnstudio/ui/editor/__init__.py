"""The node editor: canvas (scene, cards, wires, view), palette, inspector, problems list and undo commands."""
