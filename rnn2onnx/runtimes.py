"""onnxruntime and OpenVINO behind one small interface: load(name, model) -> run(feeds)."""
import os
import tempfile

import onnx

RUNTIMES = ("onnxruntime", "openvino")


def available():
    names = ["onnxruntime"]
    try:
        import openvino  # noqa: F401
        names.append("openvino")
    except ImportError:
        pass
    return names


def _model_bytes_or_path(model):
    if isinstance(model, onnx.ModelProto):
        return model.SerializeToString()
    return os.fspath(model)


def load(name, model, threads=None, openvino_config=None):
    """A function feeds -> list of output arrays, for an onnx.ModelProto or a path.
    `openvino_config`: CPU plugin properties added to the f32 precision hint."""
    if name == "onnxruntime":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(_model_bytes_or_path(model), options,
                                               providers=["CPUExecutionProvider"])
        return lambda feeds: session.run(None, feeds)
    if name == "openvino":
        import openvino

        core = openvino.Core()
        if isinstance(model, onnx.ModelProto):
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.onnx")
                onnx.save_model(model, path)
                ov_model = core.read_model(path)
        else:
            ov_model = core.read_model(os.fspath(model))
        # without the hint the CPU plugin may compute in bfloat16
        compiled = core.compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", **(openvino_config or {})})
        return lambda feeds: [compiled(feeds)[out] for out in compiled.outputs]
    raise ValueError(f"unknown runtime {name!r}; accepted: {', '.join(RUNTIMES)}")
