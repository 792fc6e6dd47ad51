"""The output edge over real DDS: a frame that fails still publishes an empty array with its stamp and frame; frame
ids are made valid TF names (never '' parents in /tf); skeletons that break the invariant are never published. One
phase per test."""

from __future__ import annotations

import pytest
from test_ros_stream_health import _feed, _node

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_a_failing_frame_publishes_an_empty_array_with_its_stamp(procs):
    node = _node(procs)
    res = _feed(procs, "bad_frames")
    arrays = res["arrays"]
    assert len(arrays) >= 5, arrays
    sent = {tuple(s) for s in res["sent"]}
    for a in arrays:
        assert a["n"] == 0 and a["frame_id"] == "camera_color_optical_frame"
        assert tuple(a["stamp"]) in sent  # the image's own stamp, not the node's clock
    assert any("bayer_grbg8" in s["message"] for s in res["summaries"])
    log = procs.output("node")
    assert node.poll() is None and "Traceback" not in log


@pytest.mark.parametrize("frame_id,expected", [
    ("", "camera_color_optical_frame"),
    ("my camera " * 1000, None),  # 10,000 characters with spaces
])
def test_invalid_frame_ids_never_reach_tf(procs, frame_id, expected):
    node = _node(procs)
    res = _feed(procs, "frames", "--frame-id", frame_id, timeout=60.0)
    with_people = [a for a in res["arrays"] if a["n"]]
    assert with_people, res["arrays"]
    published = {a["frame_id"] for a in res["arrays"]}
    assert len(published) == 1
    fid = published.pop()
    if expected is not None:
        assert fid == expected
    else:
        assert fid.startswith("my_camera_my_camera_") and len(fid) <= 128 and " " not in fid
    assert all(a["sk_frames"] == [fid] for a in with_people)
    assert res["tf_parents"] == [fid]  # body_<id> frames hang off the cleaned frame, never ''
    reports = [s for s in res["summaries"] if "frame_id" in s["message"]]
    assert reports and all(len(s["message"]) <= 500 for s in reports)
    assert procs.output("node").count("image frame_id") == 1  # reported once, not per frame
    assert node.poll() is None


def test_skeletons_beyond_the_range_are_dropped_not_published(procs):
    """People at 3.5 m with max_range_m 1.0: every skeleton breaks the invariant; arrays still come, empty."""
    _node(procs, "max_range_m:=1.0")
    res = _feed(procs, "frames", timeout=25.0)
    arrays = res["arrays"]
    assert len(arrays) >= 3 and all(a["n"] == 0 for a in arrays), arrays
    assert res["tf_parents"] == []
    hit = next((s for s in res["summaries"] if "dropped, not published" in s["message"]), None)
    assert hit is not None, [s["message"] for s in res["summaries"]]
    assert "max_range_m 1" in hit["message"]
    assert int(hit["values"]["skeletons_dropped_invalid"]) >= 1
    assert int(hit["values"]["count: dropped:out_of_range"]) >= 1
