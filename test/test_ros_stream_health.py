"""/diagnostics tells the truth over real DDS: each way the inference node ends up publishing nothing turns its summary
WARN/ERROR within ~3 s, naming the silent topic or the stamp offset; a frozen or killed driver too. One phase per
test."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from conftest import REPO, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FOOTAGE = REPO / "pose3d_ros/resources/footage/basketball1.png"
FEEDER = REPO / "test/ros_feeder.py"
#: seconds from the cause to the diagnostics that name it (1 s stream_timeout + the 1 s diagnostics period + DDS)
DETECT_S = 3.0


def _names(procs) -> dict[str, str]:
    """A test-unique namespace and node names: a stray node left in the same ROS domain cannot answer for ours."""
    if not hasattr(procs, "names"):
        token = uuid.uuid4().hex[:8]
        procs.names = {"ns": f"cam_{token}", "node": f"pose3d_{token}", "driver": f"driver_{token}"}
    return procs.names


def _node(procs, *params: str):
    n = _names(procs)
    args = ["-m", "pose3d_ros.ros.pose3d_node", "--ros-args", "-r", f"__ns:=/{n['ns']}", "-r",
            f"__node:={n['node']}", "-p", "process_mode:=always"]
    for p in params:
        args += ["-p", p]
    return procs.start(args, "node")


def _feed(procs, mode: str, *extra: str, timeout: float = 30.0) -> dict:
    if not FOOTAGE.is_file():
        pytest.skip("embedded footage missing")
    n = _names(procs)
    feeder = procs.start([str(FEEDER), mode, str(FOOTAGE), "--timeout", str(timeout), "--ns", n["ns"], "--node",
                          n["node"], "--driver", n["driver"], *extra], "feeder")
    wait_for(lambda: feeder.poll() is not None, 3 * timeout + 60, f"the {mode} feeder")
    out = procs.output("feeder")
    assert feeder.returncode == 0, out[-3000:] + procs.output("node")[-3000:]
    res = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:])
    res["ns"] = "/" + n["ns"]
    return res


def _first(res: dict, pattern: str) -> dict:
    hit = next((s for s in res["after"] if re.search(pattern, s["message"])), None)
    assert hit is not None, [s["message"] for s in res["summaries"]]
    return hit


def test_camera_info_never_arrives(procs):
    node = _node(procs)
    res = _feed(procs, "no_info")
    ns = res["ns"]
    hit = _first(res, rf"no messages on {ns}/color/camera_info")
    assert hit["level"] == 2 and hit["t"] - res["t0"] < DETECT_S
    assert hit["values"]["people"] == "0" and "fps" in hit["values"]
    info = res["topics"][f"{ns}/color/camera_info topic status"]
    assert info["level"] == 2 and info["message"].startswith("No events recorded")
    assert "Actual frequency (Hz)" in info["values"] and "Minimum acceptable frequency (Hz)" in info["values"]
    color = res["topics"][f"{ns}/color/image_raw topic status"]
    assert 5.0 < float(color["values"]["Actual frequency (Hz)"]) < 15.0
    assert hit["hardware_id"] != "onnxruntime"  # the camera, not the backend
    assert node.poll() is None


def test_depth_stamped_half_a_second_early_names_the_offset(procs):
    _node(procs)
    res = _feed(procs, "offset")
    hit = _first(res, r"never paired")
    assert re.search(rf"depth_registered/image_raw stamps are 0\.(49|50|51)\d s behind {res['ns']}/color/image_raw",
                     hit["message"]), hit["message"]
    assert hit["level"] == 2 and hit["t"] - res["t0"] < DETECT_S + 1.0  # + the RGB-D pairing timeout


def test_colour_stops_while_info_and_depth_flow(procs):
    _node(procs)
    res = _feed(procs, "color_stops", timeout=60.0)
    assert res["healthy"], [s["message"] for s in res["summaries"]]  # OK while everything flowed
    hit = _first(res, rf"{res['ns']}/color/image_raw silent for")
    assert hit["level"] == 2 and hit["t"] - res["t0"] < DETECT_S
    assert "people" not in hit["message"] and hit["values"]["people"] == "0"  # not the last frame's count


@pytest.mark.parametrize("sig", ["SIGSTOP", "SIGKILL"])
def test_frozen_driver_turns_the_node_to_error(procs, sig):
    """SIGSTOP (a hung driver) or SIGKILL (a crashed one) on the real driver: every input stops at once."""
    n = _names(procs)
    driver = procs.start(["-m", "pose3d_ros.ros.kinect_driver_node", "--ros-args", "-r", f"__ns:=/{n['ns']}", "-r",
                          f"__node:={n['driver']}", "-p", "rate:=5.0", "-p", "camera_name:=kinect_a"], "driver")
    node = _node(procs, "use_depth:=false")
    res = _feed(procs, "freeze", "--driver-pid", str(driver.pid), "--signal", sig, timeout=90.0)
    assert res["healthy"], [s["message"] for s in res["summaries"]] + [procs.output("node")[-2000:]]
    hit = _first(res, r"all inputs silent")
    assert hit["level"] == 2 and hit["t"] - res["t0"] < DETECT_S
    assert f"{res['ns']}/color/image_raw" in hit["message"] and hit["values"]["people"] == "0"
    drv = res["driver_healthy"]
    assert drv["hardware_id"] == "kinect_a" and drv["level"] == 0
    assert 3.0 < float(drv["values"]["Actual frequency (Hz)"]) < 7.0 and drv["values"]["Target frequency (Hz)"]
    if sig == "SIGKILL":  # the driver is gone for good (its DDS participant never said goodbye); the node is not
        wait_for(lambda: driver.poll() is not None, 10.0, "the killed driver to be reaped")
        assert driver.returncode == -9, driver.returncode
    else:
        assert driver.poll() is None  # SIGCONT brought it back
    assert node.poll() is None, procs.output("node")[-3000:]
