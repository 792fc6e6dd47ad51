"""Driver without a device: clear error, /diagnostics ERROR, retries with exponential backoff (no busy loop)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import wait_for

pytestmark = pytest.mark.ros

PROBE = r"""
import json, time, rclpy
from diagnostic_msgs.msg import DiagnosticArray
rclpy.init(); n = rclpy.create_node("probe"); got = []
n.create_subscription(DiagnosticArray, "/diagnostics",
                      lambda m: got.extend([s.level[0], s.name, s.message] for s in m.status if "camera" in s.name), 10)
end = time.monotonic() + 30
while time.monotonic() < end and not got:
    rclpy.spin_once(n, timeout_sec=0.1)
print("RESULT " + json.dumps(got), flush=True)
"""


@pytest.mark.parametrize("params,message", [
    (["backend:=webcam", "device_index:=15"], "cannot open OpenCV capture device 15"),
    (["backend:=freenect"], "freenect"),  # no Kinect plugged in (or libfreenect / PyPI freenect not installed)
])
def test_absent_device_is_an_error_with_backoff(procs, tmp_path, params, message):
    args = ["-m", "pose3d_ros.ros.kinect_driver_node", "--ros-args", "-p", "retry_initial_s:=0.2",
            "-p", "retry_max_s:=1.0"]
    for p in params:
        args += ["-p", p]
    drv = procs.start(args, "driver")
    (tmp_path / "probe.py").write_text(PROBE)
    probe = procs.start([str(tmp_path / "probe.py")], "probe")
    wait_for(lambda: probe.poll() is not None, 60, "driver diagnostics")
    res = json.loads(next(x for x in procs.output("probe").splitlines() if x.startswith("RESULT "))[7:])
    assert res and res[0][0] == 2 and message in res[0][2], res  # ERROR with the reason

    def delays() -> list[float]:
        return [float(x) for x in re.findall(r"retrying in ([0-9.]+) s", procs.output("driver"))]

    # 0.2 + 0.4 + 0.8 s of backoff: the fourth line is due ~1.4 s after the first
    wait_for(lambda: len(delays()) >= 4 or drv.poll() is not None, 30, "four retries of the driver")
    assert drv.poll() is None, procs.output("driver")  # still up, still retrying
    got = delays()
    assert got[:4] == [0.2, 0.4, 0.8, 1.0] and max(got) <= 1.0  # exponential, capped: never a busy loop


@pytest.mark.parametrize("params,message", [
    (["backend:=playback", "path:=/nonexistent/recording"], "path ('/nonexistent/recording', expected an existing"),
    (["backend:=kinect2"], "backend ('kinect2', expected one of freenect, playback"),
    (["rate:=1000.0"], "rate (1000.0, expected a double in [0.0, 240.0])"),
    (["device_index:=-1"], "device_index (-1, expected an integer in [0, 16])"),
    (["retry_initial_s:=0.0"], "retry_initial_s (0.0, expected a double in [0.05, 60.0])"),
    (["rate:=5"], "rate (5, expected a double in [0.0, 240.0]); write it with a decimal point"),
    (["backend:=playbak"], "(did you mean 'playback'?)"),
])
def test_configuration_errors_fail_fast(procs, params, message):
    """A configuration error is refused at once with one clear line and exit code 2 (only devices are retried)."""
    args = ["-m", "pose3d_ros.ros.kinect_driver_node", "--ros-args"]
    for p in params:
        args += ["-p", p]
    drv = procs.start(args, "driver")
    wait_for(lambda: drv.poll() is not None, 30, "the driver to refuse its configuration")
    out = procs.output("driver")
    assert drv.returncode == 2, out
    assert "cannot start: " in out and message in out, out
    assert "Traceback" not in out and "retrying" not in out, out
