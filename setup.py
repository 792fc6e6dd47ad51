"""pip install of the pure-Python part (core, models, CLI). The ROS package itself is built by colcon (CMakeLists.txt),
which also generates the messages; see README.md."""
from setuptools import setup

setup()
