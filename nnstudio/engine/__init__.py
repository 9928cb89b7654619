"""The array engine: layers, losses, optimizers and a DAG model on NumPy or CuPy (no Qt, no PyTorch)."""

# Freed array memory stays with the process, so each training step reuses it instead of page-faulting through
# fresh memory (.allocator; glibc only, and only unless the user tuned malloc themselves).
from nnstudio.engine.allocator import keep_freed_memory as _keep_freed_memory  # noqa: E402

_keep_freed_memory()
