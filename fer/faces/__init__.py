"""Faces in frames: detection (a CNN with landmarks, or Haar), alignment, cropping and tracking.

One code path serves the full-frame datasets and ``fer.predict``, so a face is cropped at
inference exactly as the training data was.
"""
