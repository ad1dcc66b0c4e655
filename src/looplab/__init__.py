"""looplab: run, search and learn from feedback loops around language models."""

import os

# looplab's matrices are small; BLAS worker threads that spin between calls only starve the
# llama.cpp threads on a small machine. A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
