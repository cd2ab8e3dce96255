"""A description of the machine a run measured: CPU, compiler and flags, libraries, BLAS, GPU."""
import importlib.util
import platform
import socket
import sys

import numpy as np

from matmul_ladder.api import build_info


def blas_info():
    """NumPy's BLAS as threadpoolctl sees it: library, version, kernel architecture, threads."""
    from threadpoolctl import threadpool_info
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the BLAS is loaded
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            return {k: lib.get(k) for k in ("internal_api", "version", "architecture",
                                            "num_threads", "threading_layer", "filepath")}
    return {"internal_api": "unknown"}


def blas_label():
    b = blas_info()
    arch = f", {b['architecture']} kernels" if b.get("architecture") else ""
    return f"{b.get('internal_api')} {b.get('version') or ''}{arch}".strip()


def gpu_info():
    if importlib.util.find_spec("cupy") is None:
        return {"available": False, "reason": "CuPy not installed"}
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
        props = cupy.cuda.runtime.getDeviceProperties(0) if count else {}
        return {"available": count > 0, "count": count,
                "name": props.get("name", b"").decode(errors="replace"),
                "memory_bytes": props.get("totalGlobalMem"),
                "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
                "driver": cupy.cuda.runtime.driverGetVersion(),
                "cupy": cupy.__version__}
    except Exception as exc:  # no driver, no device
        return {"available": False, "reason": str(exc)}


def versions():
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    for name in ("threadpoolctl", "torch", "cupy", "Cython", "matplotlib"):
        if importlib.util.find_spec(name) is not None:
            try:
                out[name] = __import__(name).__version__
            except Exception as exc:  # a broken install still gets reported
                out[name] = f"import failed: {exc}"
    return out


def describe():
    info = build_info()
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": info["cpu"],
        "build": {k: info[k] for k in ("compiler", "compiler_version", "flags", "openmp",
                                       "simd", "blocking", "strassen", "plain_flags_source")},
        "blas": blas_info(),
        "versions": versions(),
        "gpu": gpu_info(),
    }


def memory_bytes():
    """This machine's physical memory in bytes, or None where the OS does not say."""
    import os
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
