"""Both nodes are managed (lifecycle) nodes; configuration errors are refused with one line and exit code 2."""

from __future__ import annotations

import json

import pytest
from conftest import wait_for

pytestmark = pytest.mark.ros

MANAGER = r"""
import json, sys, time, rclpy
import pose3d_ros.ros  # noqa: F401 - pose3d_ros.msg from the checkout
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from pose3d_ros.msg import Skeleton3DArray
rclpy.init(); n = rclpy.create_node("manager")
change = n.create_client(ChangeState, "/camera/pose3d_node/change_state")
get = n.create_client(GetState, "/camera/pose3d_node/get_state")
assert change.wait_for_service(timeout_sec=60.0) and get.wait_for_service(timeout_sec=10.0)
arrays = []
n.create_subscription(Skeleton3DArray, "/camera/skeletons", arrays.append, 10)
def call(cli, req):
    f = cli.call_async(req); rclpy.spin_until_future_complete(n, f, timeout_sec=60.0); return f.result()
def state():
    return call(get, GetState.Request()).current_state.label
def spin(sec):
    end = time.monotonic() + sec
    while time.monotonic() < end:
        rclpy.spin_once(n, timeout_sec=0.05)
out = {"start": state()}
for name, tid in [("configure", Transition.TRANSITION_CONFIGURE), ("activate", Transition.TRANSITION_ACTIVATE)]:
    out[name] = call(change, ChangeState.Request(transition=Transition(id=tid))).success
out["active"] = state()
end = time.monotonic() + 60
while not arrays and time.monotonic() < end:
    spin(0.2)
out["arrays_active"] = len(arrays)
deactivate = ChangeState.Request(transition=Transition(id=Transition.TRANSITION_DEACTIVATE))
out["deactivate"] = call(change, deactivate).success
spin(1.0); before = len(arrays); spin(3.0)
out["arrays_inactive"] = len(arrays) - before
out["cleanup"] = call(change, ChangeState.Request(transition=Transition(id=Transition.TRANSITION_CLEANUP))).success
out["end"] = state()
print("RESULT " + json.dumps(out), flush=True)
"""


def test_inference_node_lifecycle(procs, tmp_path):
    """unconfigured -> configure -> active (publishes) -> deactivate (silent) -> cleanup -> unconfigured."""
    procs.start(["-m", "pose3d_ros.ros.kinect_driver_node", "--ros-args", "-r", "__ns:=/camera",
                 "-p", "rate:=5.0"], "driver")
    node = procs.start(["-m", "pose3d_ros.ros.pose3d_node", "--ros-args", "-r", "__ns:=/camera",
                        "-p", "autostart:=false", "-p", "process_mode:=always"], "node")
    (tmp_path / "manager.py").write_text(MANAGER)
    mgr = procs.start([str(tmp_path / "manager.py")], "manager")
    wait_for(lambda: mgr.poll() is not None, 150, "the lifecycle sequence")
    assert mgr.returncode == 0, procs.output("manager")[-2000:] + procs.output("node")[-2000:]
    res = json.loads(next(x for x in procs.output("manager").splitlines() if x.startswith("RESULT "))[7:])
    assert res["start"] == "unconfigured" and res["configure"] and res["activate"] and res["active"] == "active"
    assert res["arrays_active"] >= 1
    assert res["deactivate"] and res["arrays_inactive"] == 0
    assert res["cleanup"] and res["end"] == "unconfigured"
    assert node.poll() is None and "Traceback" not in procs.output("node")


@pytest.mark.parametrize("params,message", [
    (["sync_queue_size:=0"], "sync_queue_size (0, expected an integer in [1, 100])"),
    (["sync_slop:=-1.0"], "sync_slop (-1.0, expected a double in [0.001, 1.0])"),
    (["sync_slop:=abc"], "sync_slop ('abc', expected a double"),
    (["sync_slop:=5"], "sync_slop (5, expected a double in [0.001, 1.0]); write it with a decimal point"),
    (["use_depth:=maybe"], "use_depth ('maybe', expected a boolean)"),
    (["max_fps:=1000.0"], "max_fps (1000.0, expected a double in [0.0, 240.0])"),
    (["max_fps:=.nan"], "max_fps (nan"),
    (["min_joint_confidence:=2.0"], "min_joint_confidence (2.0"),
    (["process_mode:=garbage"], "process_mode ('garbage', expected one of subscribed, always)"),
    (["use_dept:=false"], "unknown parameter 'use_dept' (did you mean 'use_depth'?)"),
    (["backend:=tensorflow"], "backend ('tensorflow', expected one of"),
])
def test_inference_node_refuses_bad_parameters(procs, params, message):
    args = ["-m", "pose3d_ros.ros.pose3d_node", "--ros-args"]
    for p in params:
        args += ["-p", p]
    node = procs.start(args, "node")
    wait_for(lambda: node.poll() is not None, 60, "the node to refuse its configuration")
    out = procs.output("node")
    assert node.returncode == 2 and f"cannot start: {message}" in out, out
    assert "Traceback" not in out, out


@pytest.mark.parametrize("content,message", [
    ("pipeline: [1, 2]\n", "'pipeline' must be a mapping"),
    ("just a string\n", "expected a mapping"),
    ("pipeline: {model: [\n", "invalid YAML"),
    ("pipeline: {modle: x}\n", "unknown pipeline settings ['modle']"),
])
def test_inference_node_refuses_a_bad_pipeline_config(procs, tmp_path, content, message):
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(content)
    node = procs.start(["-m", "pose3d_ros.ros.pose3d_node", "--ros-args", "-p", f"pipeline_config:={cfg}"], "node")
    wait_for(lambda: node.poll() is not None, 60, "the node to refuse its configuration")
    out = procs.output("node")
    assert node.returncode == 2 and "cannot start: " in out and message in out, out
    assert "Traceback" not in out, out
