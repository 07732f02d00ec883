"""How many threads the compiled (numba) backends use, decided in one place.

Numba's parallel loops use ``NUMBA_NUM_THREADS`` threads. A dask worker runs one model per thread and must
not start nested thread pools (numba's default ``workqueue`` layer aborts on concurrent parallel launches
from several threads), so the compiled backends run their serial kernels unless they are called from the
main thread and more than one numba thread is configured.
"""

from __future__ import annotations

import threading

import numba


def compiled_threads(requested: int | None = None) -> int:
    """Number of threads a compiled kernel should use (1 selects the serial kernel).

    Parameters
    ----------
    requested
        Explicit request; ``None`` means ``numba.get_num_threads()`` from the main thread and 1 elsewhere.
    """
    if requested is not None:
        return max(1, min(int(requested), numba.config.NUMBA_NUM_THREADS))
    if threading.current_thread() is not threading.main_thread():
        return 1
    return int(numba.get_num_threads())
