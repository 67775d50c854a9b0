"""A trained model on photos, folders, videos and the webcam: frames (frames.py), the model and the
face pipeline before it (runtime.py, onnx_session.py), and each tracked face over time (timeline.py)."""
