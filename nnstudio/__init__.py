"""NN Studio: build, train and understand neural networks visually."""

__version__ = "0.1.0"
