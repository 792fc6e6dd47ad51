"""pose3d_ros: 3D human skeletons and actions from RGB-D cameras (kept trivial: see CMakeLists.txt)."""
