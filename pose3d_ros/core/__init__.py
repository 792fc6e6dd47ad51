"""ROS-free numpy core: skeleton layouts (``skeleton``), camera geometry (``camera``), depth at the joints and what it
is worth (``depth``, ``depth_noise``), belief maps and their fusion (``belief_maps``, ``belief_map_fusion``), the 3D
pose prior and lifting (``prior``, ``subspace_fit``, ``bone_refinement``, ``lifting``, ``rgbd_lift``), tracking and
smoothing (``tracking``, ``filters``, ``temporal``) and the stream policies the nodes call (``frame_slot``,
``depth_fallback``, ``camera_policy``, ``time_jumps``, ``stamp_check``, ``stream_health``, ``output_guard``). Import
the submodules directly; nothing is imported here so that ``import pose3d_ros.core`` stays cheap. Simulators live in
:mod:`pose3d_ros.sim`."""
