"""Launch files, config YAML and RViz reference only executables, nodes and parameters that exist.

Checked statically (``launch``/``launch_ros`` are not on PyPI): the launch files are parsed with ``ast``, the
declared parameters are read from the nodes' ``declare(...)`` calls.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO

NODE_SOURCES = {
    "kinect_driver": REPO / "pose3d_ros/ros/kinect_driver_node.py",
    "pose3d_node": REPO / "pose3d_ros/ros/pose3d_node.py",
}
CONFIGS = {"kinect_driver": REPO / "config/kinect_driver.yaml", "pose3d_node": REPO / "config/pose3d.yaml"}
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))


def declared_parameters(path: Path) -> set[str]:
    """Names of the node's parameter table (``NODE_PARAMS`` / ``DRIVER_PARAMS``)."""
    return set(param_specs(path))


def param_specs(path: Path) -> dict:
    import importlib

    module = importlib.import_module("pose3d_ros.ros." + path.stem)
    table = getattr(module, "NODE_PARAMS", None) or module.DRIVER_PARAMS
    return {spec.name: spec for spec in table}


def installed_executables() -> set[str]:
    cmake = (REPO / "CMakeLists.txt").read_text()
    block = re.search(r"install\(PROGRAMS(.*?)DESTINATION", cmake, re.S).group(1)
    return {Path(p).name for p in block.split() if (REPO / p).is_file()}


def launch_nodes(path: Path) -> list[dict]:
    """Every ``Node(...)`` call: package, executable, name and the keys of inline parameter dicts."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("Node", "managed_node"):
            kw = {k.arg: k.value for k in node.keywords}
            rec = {k: kw[k].value for k in ("package", "executable", "name") if isinstance(kw.get(k), ast.Constant)}
            keys = set()
            if isinstance(kw.get("parameters"), ast.List):
                for el in kw["parameters"].elts:
                    if isinstance(el, ast.Dict):
                        keys |= {k.value for k in el.keys if isinstance(k, ast.Constant)}
            rec["param_keys"] = keys
            out.append(rec)
    return out


def test_there_are_three_launch_files():
    assert {p.name for p in LAUNCH_FILES} == {"pose3d.launch.py", "kinect.launch.py", "inference.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_nodes_use_installed_executables_and_declared_parameters(path):
    exes = installed_executables()
    for n in launch_nodes(path):
        if n.get("package") != "pose3d_ros":
            assert n.get("executable") == "rviz2"
            continue
        assert n["executable"] in exes, f"{path.name}: executable {n['executable']} is not installed"
        declared = declared_parameters(NODE_SOURCES[n["name"]])
        assert n["param_keys"] <= declared, f"{path.name}: unknown parameters {n['param_keys'] - declared}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_arguments_are_described(path):
    tree = ast.parse(path.read_text())
    calls = [n for n in ast.walk(tree)
             if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "DeclareLaunchArgument"]
    assert calls
    for c in calls:
        kws = {k.arg for k in c.keywords}
        assert "description" in kws and "default_value" in kws, ast.dump(c)[:200]
    declared = {c.args[0].value for c in calls}
    used = {n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", "") == "LaunchConfiguration"}
    assert used <= declared, f"{path.name}: undeclared launch arguments {used - declared}"


@pytest.mark.parametrize("node", sorted(CONFIGS))
def test_config_yaml_sets_exactly_the_declared_parameters(node):
    data = yaml.safe_load(CONFIGS[node].read_text())
    (key, section), = data.items()
    assert key.endswith(node)
    params = set(section["ros__parameters"])
    assert params == declared_parameters(NODE_SOURCES[node])


def test_rviz_config_uses_the_optical_frame_and_published_topics():
    rv = yaml.safe_load((REPO / "rviz/pose3d.rviz").read_text())
    vm = rv["Visualization Manager"]
    assert vm["Global Options"]["Fixed Frame"] == "camera_color_optical_frame"
    topics = {d["Topic"]["Value"] for d in vm["Displays"] if "Topic" in d}
    assert {"/camera/markers", "/camera/debug/image"} <= topics


def test_config_comments_are_the_parameter_descriptions():
    """Each YAML comment says exactly what the ParameterDescriptor says, and each default matches the table's."""
    for node, src in NODE_SOURCES.items():
        specs = param_specs(src)
        values = next(iter(yaml.safe_load(CONFIGS[node].read_text()).values()))["ros__parameters"]
        for line in CONFIGS[node].read_text().splitlines():
            m = re.match(r"\s+(\w+):.*?  # (.*)$", line)
            if m and m.group(1) in specs:
                assert m.group(2) == specs[m.group(1)].full_description, f"{node}.{m.group(1)}"
                assert values[m.group(1)] == specs[m.group(1)].default, f"{node}.{m.group(1)} default"
        commented = {m.group(1) for ln in CONFIGS[node].read_text().splitlines()
                     if (m := re.match(r"\s+(\w+):.*  # ", ln))}
        assert commented == set(specs), f"{node}: parameters without a comment {set(specs) - commented}"


def test_run_node_builds_ros_args_from_the_same_yaml():
    from pose3d_ros.commands.run_node import ros_args_for

    args = ros_args_for("node", None, "camera", ["use_depth=false"], ["--log-level", "debug"])
    assert args[:2] == ["--ros-args", "--params-file"] and args[2].endswith("config/pose3d.yaml")
    assert args[3:] == ["-r", "__ns:=/camera", "-p", "use_depth:=false", "--log-level", "debug"]


@pytest.mark.parametrize("sets,params,match", [(["use_depth"], None, "NAME=VALUE"),
                                               ([], Path("/nonexistent.yaml"), "does not exist")])
def test_run_node_rejects_bad_arguments(sets, params, match):
    from pose3d_ros.commands.run_node import ros_args_for

    with pytest.raises(ValueError, match=match):
        ros_args_for("driver", params, "", sets, [])


def test_fastdds_profile_follows_the_discovery_range_and_is_kept_when_set():
    from pose3d_ros.ros.dds import apply_dds_defaults

    local = apply_dds_defaults({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"})["FASTDDS_DEFAULT_PROFILES_FILE"]
    assert local.endswith("config/fastdds.xml")
    assert apply_dds_defaults({"ROS_LOCALHOST_ONLY": "1"})["FASTDDS_DEFAULT_PROFILES_FILE"] == local
    subnet = apply_dds_defaults({"ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET"})["FASTDDS_DEFAULT_PROFILES_FILE"]
    assert subnet.endswith("config/fastdds_network.xml")
    assert apply_dds_defaults({"FASTDDS_DEFAULT_PROFILES_FILE": "/mine.xml"})["FASTDDS_DEFAULT_PROFILES_FILE"] == \
        "/mine.xml"
    for name, whitelisted in (("fastdds.xml", True), ("fastdds_network.xml", False)):
        xml = (REPO / "config" / name).read_text()
        assert "<type>SHM</type>" in xml and "<segment_size>16777216</segment_size>" in xml
        assert ("<address>127.0.0.1</address>" in xml) == whitelisted
