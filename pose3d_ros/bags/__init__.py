"""rosbag2 bags (MCAP storage) in and out, with the ``rosbags`` library: no ROS installation needed.

- :mod:`.writer`: :class:`~.writer.BagWriter`, any message (rosbags, dict, CDR bytes or rclpy) on any topic.
- :mod:`.rgbd`: :class:`~.rgbd.RGBDBagWriter`, camera captures on the driver's topics + ``/tf_static``.
- :mod:`.reader`: :class:`~.reader.BagFrameReader`, colour + nearest depth + camera info out of any RGB-D bag
  (ours, RealSense, Azure Kinect, ...); :class:`~pose3d_ros.sources.playback.PlaybackSource` plays bags through it.
- :mod:`.topics`: which topics are colour / depth / camera info. :mod:`.images`: pixel encodings.
- :mod:`.typestore`: ROS 2 types plus ours from ``msg/*.msg``.

Import the submodules; this package itself imports no ``rosbags``, so that it is loaded only where bags are used.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

__all__ = ["is_bag_path", "BAG_SUFFIXES"]

#: storage files of rosbag2 (MCAP, SQLite)
BAG_SUFFIXES = (".mcap", ".db3")


def is_bag_path(path: str | PathLike) -> bool:
    """Whether ``path`` is a rosbag2 bag: a directory with ``metadata.yaml`` or a ``.mcap`` / ``.db3`` file, or such
    a file itself."""
    p = Path(path)
    if p.is_dir():
        return (p / "metadata.yaml").is_file() or any(f.suffix.lower() in BAG_SUFFIXES for f in p.iterdir())
    return p.suffix.lower() in BAG_SUFFIXES
