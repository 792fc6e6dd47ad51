"""Per-frame timing statistics of the inference node (latency from the image stamp, processing time, stage times).

Latency is kept only for stamps from the node's own clock (:class:`pose3d_ros.core.stamp_check.StampCheck` decides);
the diagnostics show the median and the 95th percentile of the last ``keep`` frames.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import numpy as np

__all__ = ["FrameStats"]


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[int(q * (len(sorted_values) - 1))]


class FrameStats:
    """Latencies (s), processing times (ms) and the latest stage timings (ms) of processed frames.

    Parameters
    ----------
    keep : int
        Frames the statistics are taken over (>= 1).
    """

    def __init__(self, keep: int = 100) -> None:
        if int(keep) < 1:
            raise ValueError(f"keep must be >= 1 frames, got {keep}")
        self.latencies: deque[float] = deque(maxlen=int(keep))
        self.proc_ms: deque[float] = deque(maxlen=int(keep))
        self.timings: dict[str, float] = {}

    def add(self, processing_ms: float, latency_s: float | None = None,
            timings: Mapping[str, float] | None = None) -> None:
        """One processed frame: its processing time, latency (None = not measured) and stage timings."""
        self.proc_ms.append(float(processing_ms))
        if latency_s is not None:
            self.latencies.append(float(latency_s))
        self.timings = {str(k): float(v) for k, v in (timings or {}).items()}

    def values(self) -> dict[str, object]:
        """Diagnostics values: ``latency_median_ms``, ``latency_p95_ms``, ``processing_ms``, ``stage_ms: <name>``."""
        lat = sorted(self.latencies)
        out: dict[str, object] = {
            "latency_median_ms": round(1e3 * _percentile(lat, 0.5), 1) if lat else "n/a",
            "latency_p95_ms": round(1e3 * _percentile(lat, 0.95), 1) if lat else "n/a",
            "processing_ms": round(float(np.median(self.proc_ms)), 1) if self.proc_ms else "n/a",
        }
        out.update({f"stage_ms: {k}": round(v, 2) for k, v in self.timings.items()})
        return out
