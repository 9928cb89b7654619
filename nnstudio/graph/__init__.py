"""The network as data: the block catalogue, the graph document, shape inference, compilation to the
engine and project files.  Nothing in this package imports Qt."""
from nnstudio.graph.catalogue import ACTIVATION_INFO, BLOCKS, BlockSpec, ParamSpec, get_block, short_label
from nnstudio.graph.document import Edge, Graph, GraphEvent, Node

__all__ = ["ACTIVATION_INFO", "BLOCKS", "BlockSpec", "Edge", "Graph", "GraphEvent", "Node", "ParamSpec",
           "get_block", "short_label"]
