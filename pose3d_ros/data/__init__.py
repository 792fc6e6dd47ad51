"""3D skeleton data: mocap conversion (DeepMimic clips) and augmentation for the pose prior; calibrated multi-view
geometry (:mod:`.multiview`) and the real-video validation set (:mod:`.realval`)."""
