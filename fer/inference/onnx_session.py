"""ONNX Runtime sessions on the CPU, set up one way for the classifier and the face detector."""

from __future__ import annotations


def cpu_session(model: str | bytes, threads: int = 0):
    """An ``InferenceSession`` for a model file or serialised model; ``threads=0``: ONNX Runtime's choice."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    # no busy-waiting between calls: spinning threads take the cores from decoding and the other models
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
