"""The freenect backend (and the driver node) through the real libfreenect, replaying a recording with fakenect.

Debian's fakenect replays INDEX.txt + d-*.pgm (11-bit depth) / r-*.ppm (640x480 RGB) through a drop-in
libfreenect; it lacks ``freenect_camera_to_world``, which libfreenect_sync needs, so a one-function shim library
compiled here is preloaded (DESIGN.md section 4).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

pytestmark = pytest.mark.fakenect

FAKENECT_DIR = Path("/usr/lib/x86_64-linux-gnu/fakenect")
SHIM_C = r"""
typedef struct _freenect_device freenect_device;
void freenect_camera_to_world(freenect_device* dev, int cx, int cy, int wz, double* wx, double* wy)
{ (void)dev; *wx = (cx - 320.0) * wz / 525.0; *wy = (cy - 240.0) * wz / 525.0; }
"""


def _have_fakenect() -> bool:
    return (FAKENECT_DIR / "libfreenect.so").exists() and shutil.which("gcc") is not None


def write_fakenect_recording(path: Path, n: int, raw_depth: int) -> list[np.ndarray]:
    """A fakenect recording of ``n`` frames: colour with a frame-number stripe, constant raw depth."""
    path.mkdir(parents=True, exist_ok=True)
    lines, colors = [], []
    for i in range(n):
        t = 1000.0 + i / 30.0
        rgb = np.zeros((480, 640, 3), np.uint8)
        rgb[:, :, 0] = 40 * (i % 5)
        rgb[100:200, 200:300] = (10, 200, 30)
        colors.append(rgb)
        depth = np.full((480, 640), raw_depth, np.uint16)
        depth[:10] = 2047  # invalid rows
        dname, rname = f"d-{t:.6f}-{i * 1000:08d}.pgm", f"r-{t + 0.001:.6f}-{i * 1000 + 1:08d}.ppm"
        (path / dname).write_bytes(b"P5 640 480 65535\n" + depth.astype("<u2").tobytes())
        (path / rname).write_bytes(b"P6 640 480 255\n" + rgb.tobytes())
        lines += [dname, rname]
    (path / "INDEX.txt").write_text("\n".join(lines) + "\n")
    return colors


@pytest.fixture
def fakenect_env(tmp_path: Path) -> dict[str, str]:
    if not _have_fakenect():
        pytest.skip("libfreenect/fakenect not installed (scripts/install_system_deps.sh installs libfreenect-bin)")
    shim = tmp_path / "libcamtoworld.so"
    src = tmp_path / "shim.c"
    src.write_text(SHIM_C)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(shim), str(src)], check=True)
    env = dict(os.environ)
    env.update(
        FAKENECT_PATH=str(tmp_path / "rec"),
        LD_LIBRARY_PATH=f"{FAKENECT_DIR}:{env.get('LD_LIBRARY_PATH', '')}",
        LD_PRELOAD=str(shim),
        PYTHONPATH=str(REPO),
    )
    return env


READ_SCRIPT = r"""
import json, sys
import numpy as np
from pose3d_ros.sources import create_source
with create_source("freenect") as src:
    out = []
    for _ in range(3):
        f = src.get_frame(timeout=2.0)
        out.append({"shape": list(f.color.shape), "red": int(f.color[300, 50, 0]), "patch": f.color[150, 250].tolist(),
                    "depth_mm": int(np.median(f.depth_mm[100:])), "invalid": int(f.depth_mm[5, 5]),
                    "fx": src.camera.fx})
print(json.dumps(out))
"""


def test_freenect_source_reads_a_fakenect_recording_through_libfreenect(fakenect_env, tmp_path):
    pytest.importorskip("freenect", reason="PyPI freenect not installed (needs libfreenect-dev to build)")
    write_fakenect_recording(tmp_path / "rec", 15, raw_depth=800)  # fakenect crashes at the end
    res = subprocess.run([sys.executable, "-c", READ_SCRIPT], env=fakenect_env, capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    frames = json.loads(res.stdout.strip().splitlines()[-1])
    assert frames[0]["shape"] == [480, 640, 3]
    assert frames[0]["patch"] == [10, 200, 30]
    # raw 800 -> 0.1236 * tan(800 / 2842.5 + 1.1863) m = 1.195 m (Kinect v1 fit); raw 2047 -> no measurement
    assert abs(frames[0]["depth_mm"] - 1195) <= 2
    assert frames[0]["invalid"] == 0
    assert frames[0]["fx"] == 525.0
