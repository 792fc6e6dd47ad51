"""Parameters over the real parameter services: descriptions, ranges, read-only and dynamic updates."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, wait_for

pytestmark = pytest.mark.ros

CLIENT = r"""
import json, rclpy
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
rclpy.init(); n = rclpy.create_node("param_client")
c = AsyncParameterClient(n, "/pose3d_node")
assert c.wait_for_services(timeout_sec=60.0), "parameter services not found"
def call(fut):
    rclpy.spin_until_future_complete(n, fut, timeout_sec=10.0)
    return fut.result()
out = {}
d = call(c.describe_parameters(["marker_lifetime", "use_depth", "process_mode"])).descriptors
out["descr"] = {x.name: [x.description, x.read_only, [r.from_value for r in x.floating_point_range],
                          [r.to_value for r in x.floating_point_range]] for x in d}
sets = [("marker_lifetime", 2.0), ("marker_lifetime", 100.0), ("use_depth", False), ("process_mode", "sometimes"),
        ("process_mode", "always")]
out["set"] = [[name, str(value), call(c.set_parameters([Parameter(name, value=value)])).results[0].successful]
              for name, value in sets]
got = call(c.get_parameters(["marker_lifetime", "process_mode"])).values
out["after"] = [got[0].double_value, got[1].string_value]
print("RESULT " + json.dumps(out), flush=True)
"""


def test_parameters_have_descriptions_ranges_and_dynamic_updates(procs, tmp_path):
    procs.start(["-m", "pose3d_ros.ros.pose3d_node", "--ros-args", "--params-file", str(REPO / "config/pose3d.yaml")],
                "node")
    (tmp_path / "client.py").write_text(CLIENT)
    cl = procs.start([str(tmp_path / "client.py")], "client")
    wait_for(lambda: cl.poll() is not None, 90, "the parameter client")
    assert cl.returncode == 0, procs.output("client")[-2000:] + procs.output("node")[-2000:]
    res = json.loads(next(x for x in procs.output("client").splitlines() if x.startswith("RESULT "))[7:])
    desc, ro, lo, hi = res["descr"]["marker_lifetime"]
    assert "lifetime" in desc and "(dynamic)" in desc and not ro and lo == [0.0] and hi == [60.0]
    assert res["descr"]["use_depth"][1] is True  # read-only: fixed at start-up
    assert [s[2] for s in res["set"]] == [True, False, False, False, True]
    assert res["after"] == [2.0, "always"]
