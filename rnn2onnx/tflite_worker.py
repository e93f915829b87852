"""Convert ONNX files with onnx2tf and run the .tflite files with TensorFlow Lite's
interpreter. rnn2onnx/tflite.py runs this script in the onnx2tf venv's own Python
(TensorFlow, onnx2tf and their pinned numpy live there, not beside rnn2onnx); it imports
nothing of rnn2onnx and loads no pickle: jobs are JSON, arrays .npz files.

    python tflite_worker.py JOBS.json

JOBS.json is a list of {"onnx", "feeds", "result", "dir"}: each ONNX file is copied into
"dir" (onnx2tf rewrites the file it converts in place), converted there with its inputs'
shapes kept as they are (-kat), and the float32 .tflite is run on the arrays of "feeds"
(one per ONNX input name). "result" gets out_0, out_1, ... (the tflite outputs, in the
order of the ONNX outputs they were converted from) or `error` (one line). One process
converts every file: importing TensorFlow costs more than converting a small model.
"""
import json
import os
import shutil
import sys
import traceback

import numpy as np


def _interpreter(path):
    try:  # onnx2tf installs ai-edge-litert, the interpreter's package since TensorFlow 2.18
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - TensorFlow's own
        from tensorflow.lite.python.interpreter import Interpreter
    return Interpreter(model_path=path)


def convert(onnx_path, directory):
    """The float32 .tflite of a copy of `onnx_path` made in `directory`."""
    import onnx
    import onnx2tf

    os.makedirs(directory, exist_ok=True)
    copy = os.path.join(directory, "model.onnx")
    shutil.copyfile(onnx_path, copy)
    inputs = [v.name for v in onnx.load(copy).graph.input]
    onnx2tf.convert(input_onnx_file_path=copy, output_folder_path=directory, keep_shape_absolutely_input_names=inputs,
                    copy_onnx_input_output_names_to_tflite=True, non_verbose=True)
    return os.path.join(directory, "model_float32.tflite"), inputs


def run(tflite_path, feeds, onnx_outputs):
    """The outputs named `onnx_outputs` of the tflite file's signature (onnx2tf names
    its inputs and outputs after the ONNX ones with -coion) on `feeds`."""
    interpreter = _interpreter(tflite_path)
    signatures = interpreter.get_signature_list()
    runner = interpreter.get_signature_runner(next(iter(signatures)))
    details = runner.get_input_details()
    if sorted(details) != sorted(feeds):
        raise ValueError(f"the tflite file has inputs {sorted(details)}; the ONNX inputs are {sorted(feeds)}")
    for name, detail in details.items():
        want = tuple(detail.get("shape_signature", detail["shape"]))  # -1: a dynamic dim
        if len(want) != feeds[name].ndim or any(w not in (-1, d) for w, d in zip(want, feeds[name].shape)):
            raise ValueError(f"the tflite input {name!r} has shape {want}, the ONNX input {feeds[name].shape}")
    got = runner(**{name: feeds[name].astype(detail["dtype"]) for name, detail in details.items()})
    missing = [name for name in onnx_outputs if name not in got]
    if missing:
        raise ValueError(f"the tflite file has outputs {sorted(got)}, not the ONNX outputs {missing}")
    return [got[name] for name in onnx_outputs]


def main(jobs_path):
    import onnx

    with open(jobs_path) as f:
        jobs = json.load(f)
    for job in jobs:
        try:
            tflite, _ = convert(job["onnx"], job["dir"])
            outputs = [o.name for o in onnx.load(job["onnx"]).graph.output]
            feeds = dict(np.load(job["feeds"], allow_pickle=False))
            arrays = run(tflite, feeds, outputs)
            np.savez(job["result"], **{f"out_{i}": a for i, a in enumerate(arrays)})
        except Exception as exc:  # noqa: BLE001 - reported per job
            last = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            np.savez(job["result"], error=np.array(f"{type(exc).__name__}: {last}"[:500]),
                     trace=np.array(traceback.format_exc()[-4000:]))


if __name__ == "__main__":
    main(sys.argv[1])
