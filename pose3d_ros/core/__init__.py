"""ROS-free numpy core: skeleton layouts (``skeleton``), camera geometry (``camera``), depth lifting (``depth``),
belief maps and fusion (``belief_maps``, ``fusion``), the 3D pose prior and lifting (``prior``, ``lifting``),
tracking and smoothing (``tracking``, ``filters``). Import the submodules directly; nothing is imported here so that
``import pose3d_ros.core`` stays cheap."""
