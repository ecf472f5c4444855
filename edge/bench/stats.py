"""The statistics every bench row reports, in one place: fps, median and 95th-percentile latency."""
from __future__ import annotations

import numpy as np


def latency_row(name: str, lat_ms: list[float]) -> dict:
    lat = np.array(lat_ms)
    return {"name": name, "fps": round(1000 * len(lat) / lat.sum(), 2),
            "p50_ms": round(float(np.percentile(lat, 50)), 2), "p95_ms": round(float(np.percentile(lat, 95)), 2)}


def rss_mb() -> float:
    """This process's resident memory now, in MiB (Linux /proc; 0 where there is none)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
