"""3D skeleton data: mocap conversion (DeepMimic clips) and augmentation for the pose prior."""
