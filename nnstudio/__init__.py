"""NN Studio: build, train and understand neural networks visually."""
import os as _os

__version__ = "0.1.0"

# OpenBLAS's worker threads busy-wait for 2**28 cycles (about 0.1 s) after every matrix product before they
# sleep.  Between its products the engine runs element-wise work on threads of its own
# (nnstudio.engine.parallel), which that spinning would starve of the cores; 2**16 cycles (tens of
# microseconds) still keeps back-to-back products warm.  OpenBLAS reads this when NumPy loads it, which is
# why it is set here, before anything imports NumPy; a value the user set is kept.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")
