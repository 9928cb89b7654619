"""NN Studio: build, train and understand neural networks visually."""
import os as _os

__version__ = "0.1.0"

# OpenBLAS's worker threads busy-wait for 2**28 cycles (about 0.1 s) after every matrix product before they
# sleep.  Between its products the engine runs element-wise work on threads of its own
# (nnstudio.engine.parallel), which that spinning would starve of the cores.  2**20 cycles (a few tenths of
# a millisecond) lets them sleep during that work but keeps them awake across the short gaps between the
# products of small layers (2**16 made LeNet-5's training step 50 % slower: every product had to wake
# them).  OpenBLAS reads this when NumPy loads it, which is why it is set here, before anything imports
# NumPy; a value the user set is kept.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")
