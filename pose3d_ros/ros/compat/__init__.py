"""Small, tested stand-ins for ROS libraries that the pip-installed ROS 2 lacks.

Nodes import the real library when present (``pose3d_ros.ros.imports``) and fall back to these:
``message_filters`` (Subscriber, ApproximateTimeSynchronizer), ``tf2_ros`` (TransformBroadcaster,
StaticTransformBroadcaster) and ``cv_bridge`` (imgmsg <-> numpy for rgb8, bgr8, mono8, 16UC1, 32FC1).
"""
