"""The array engine: layers, losses, optimizers and a DAG model on NumPy or CuPy (no Qt, no PyTorch)."""
