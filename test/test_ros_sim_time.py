"""use_sim_time over real DDS: the inference node measures latency against /clock, not the wall clock.

A feeder (test/ros_feeder.py, mode ``sim_clock``) publishes rosgraph_msgs/Clock from T = 5000 s at real rate and
RGB-D sets (the shipped footage, Kinect v1 intrinsics, a flat 16UC1 wall at 2600 mm) stamped 0.05 s behind it. With
``use_sim_time`` the latency statistics on /diagnostics are the pipeline's ~0.1-0.3 s; without it the same frames
are ~1.7e9 s old by the wall clock, and the node says "not measured" instead of a latency in the billions.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from conftest import REPO, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]

FOOTAGE = REPO / "pose3d_ros/resources/footage/basketball1.png"
FEEDER = REPO / "test/ros_feeder.py"
SIM_START = 5000.0
#: the feeder stamps frames this far behind the simulated time (ros_feeder.SIM_LAG)
SIM_LAG = 0.05
NOT_MEASURED = "not measured (use_sim_time?)"


def _run(procs, *params: str, timeout: float = 60.0) -> dict:
    """Start the node (``params`` added) and the sim_clock feeder in a test-unique namespace; the feeder's RESULT."""
    if not FOOTAGE.is_file():
        pytest.skip("embedded footage missing")
    token = uuid.uuid4().hex[:8]
    ns, name = f"cam_{token}", f"pose3d_{token}"
    args = ["-m", "pose3d_ros.ros.pose3d_node", "--ros-args", "-r", f"__ns:=/{ns}", "-r", f"__node:={name}",
            "-p", "process_mode:=always"]
    for p in params:
        args += ["-p", p]
    node = procs.start(args, "node")
    feeder = procs.start([str(FEEDER), "sim_clock", str(FOOTAGE), "--sim-start", str(SIM_START), "--depth-mm", "2600",
                          "--timeout", str(timeout), "--ns", ns, "--node", name], "feeder")
    wait_for(lambda: feeder.poll() is not None or node.poll() is not None, 3 * timeout + 60, "the sim_clock feeder")
    assert node.poll() is None, "node died:\n" + procs.output("node")[-3000:]
    out = procs.output("feeder")
    assert feeder.returncode == 0, out[-3000:] + procs.output("node")[-3000:]
    res = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:])
    res["node_log"] = procs.output("node")[-3000:]
    return res


def _counted(res: dict) -> dict:
    """The last summary that counts at least 5 processed frames (the latency statistics are over them)."""
    done = [s for s in res["after"] if int(s["values"]["processed"]) >= 5]
    assert done, [s["message"] for s in res["summaries"]] + [res["node_log"]]
    return done[-1]


def _assert_sim_stamped_arrays(res: dict) -> None:
    """Arrays came back, each with the stamp of a frame sent: simulated time, not the node's wall clock."""
    assert len(res["arrays"]) >= 5, res["arrays"]
    sent = {tuple(s) for s in res["sent"]}
    for a in res["arrays"]:
        assert tuple(a["stamp"]) in sent, (a["stamp"], res["sent"][-5:])
        assert SIM_START - 1 < a["stamp"][0] + 1e-9 * a["stamp"][1] < SIM_START + 1000, a["stamp"]


def test_use_sim_time_measures_latency_against_clock(procs):
    wall = time.time()
    res = _run(procs, "use_sim_time:=true")
    _assert_sim_stamped_arrays(res)
    s = _counted(res)
    assert SIM_START < s["clock"] < SIM_START + 1000, s["clock"]  # the node's diagnostics are stamped in sim time
    v = s["values"]
    median, p95 = float(v["latency_median_ms"]), float(v["latency_p95_ms"])  # "n/a" = nothing measured: fails here
    assert 1e3 * SIM_LAG * 0.5 < median < 3000.0, v  # at least most of the stamp's lag, never ~1.7e12 ms
    assert median <= p95 < 5000.0, v
    assert v["latency_note"] == "", v
    assert abs(wall - SIM_START) > 1e6  # the wall clock is far from T: a wall-clock latency could not pass above
    messages = [x["message"] for x in res["after"]]
    assert not [m for m in messages if "future" in m or NOT_MEASURED in m], messages


def test_without_use_sim_time_sim_stamps_are_not_measured(procs):
    res = _run(procs)
    _assert_sim_stamped_arrays(res)  # processed and published all the same
    s = _counted(res)
    assert s["clock"] > 1e9, s["clock"]  # the node runs on the wall clock, /clock ignored
    v = s["values"]
    assert v["latency_median_ms"] == "n/a" and v["latency_p95_ms"] == "n/a", v  # not ~1.7e12 ms
    assert NOT_MEASURED in v["latency_note"], v
