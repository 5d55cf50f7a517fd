"""The RQ worker: the face engine and its jobs.

One job per process at a time, so native libraries get one thread each:
these must be set before numpy, dlib or OpenCV load.
"""

import os

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ.setdefault(_var, "1")
