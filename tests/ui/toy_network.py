"""A small network and training settings on the 2-D circle set, shared by the training GUI tests.

Loaded by path (the tests are imported in importlib mode, so they cannot import each other)."""
from __future__ import annotations

from nnstudio.graph.document import Graph

SETTINGS = {"dataset": "circle", "loss": "cross_entropy", "optimizer": "adam", "learning_rate": 0.05,
            "batch_size": 32, "epochs": 3, "seed": 0, "validation_split": 0.1, "schedule": "constant",
            "augment": False, "backend": "numpy"}


def toy_graph(shape=(2,), softmax=True) -> Graph:
    """Input -> Dense 8 -> tanh (relu without softmax) -> Dense 2 [-> softmax]."""
    g = Graph()
    g.add_node("Input", {"shape": list(shape)}, node_id="in")
    g.add_node("Dense", {"units": 8}, node_id="d1")
    g.add_node("Activation", {"function": "tanh" if softmax else "relu"}, node_id="a1")
    g.add_node("Dense", {"units": 2}, node_id="d2")
    wires = [("in", "d1"), ("d1", "a1"), ("a1", "d2")]
    if softmax:
        g.add_node("Activation", {"function": "softmax"}, node_id="out")
        wires.append(("d2", "out"))
    for a, b in wires:
        g.connect(a, b)
    return g

