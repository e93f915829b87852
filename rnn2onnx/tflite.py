"""ONNX files through onnx2tf to TensorFlow Lite, and the .tflite files run, from this
Python: onnx2tf is not a dependency of rnn2onnx (it pins TensorFlow 2.19, onnx 1.19 and
numpy 1.26), so it lives in a venv of its own that scripts/setup-onnx2tf.sh makes, and
rnn2onnx/tflite_worker.py runs there (docs/onnx2tf.md).

    results = convert_and_run([(proto, feeds), ...])   # [outputs, or an error sentence]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

VENV_VARIABLE = "RNN2ONNX_ONNX2TF_VENV"
DEFAULT_VENV = "/work/venvs/onnx2tf"
SETUP = "scripts/setup-onnx2tf.sh"
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tflite_worker.py")


def venv():
    """The onnx2tf venv: $RNN2ONNX_ONNX2TF_VENV, else DEFAULT_VENV."""
    return os.environ.get(VENV_VARIABLE) or DEFAULT_VENV


def available(path=None):
    path = path or venv()
    return os.path.isfile(os.path.join(path, "bin", "python")) and os.path.isfile(os.path.join(path, "bin", "onnx2tf"))


def install_hint():
    return (f"onnx2tf is not installed in {venv()}; make its venv with {SETUP} {DEFAULT_VENV} "
            f"(or point {VENV_VARIABLE} at one)")


def convert_and_run(cases, path=None, timeout=3600):
    """Each (onnx.ModelProto, {input name: array}) converted by onnx2tf (float32 .tflite)
    and run by TensorFlow Lite's interpreter in the venv at `path`, all in one process:
    [list of output arrays in the ONNX output order, or a one-line error] per case."""
    path = path or venv()
    if not available(path):
        raise FileNotFoundError(install_hint())
    with tempfile.TemporaryDirectory(prefix="rnn2onnx-tflite-") as tmp:
        jobs = []
        for i, (proto, feeds) in enumerate(cases):
            base = os.path.join(tmp, f"case{i}")
            with open(base + ".onnx", "wb") as f:
                f.write(proto.SerializeToString())
            np.savez(base + "-feeds.npz", **feeds)
            jobs.append({"onnx": base + ".onnx", "feeds": base + "-feeds.npz", "result": base + "-result.npz",
                         "dir": base + "-tf"})
        with open(os.path.join(tmp, "jobs.json"), "w") as f:
            json.dump(jobs, f)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
        done = subprocess.run([os.path.join(path, "bin", "python"), WORKER, os.path.join(tmp, "jobs.json")],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp)
        results = []
        for job in jobs:
            if not os.path.isfile(job["result"]):
                tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
                results.append(f"the onnx2tf worker stopped (exit status {done.returncode}): {tail[:300]}")
                continue
            with np.load(job["result"], allow_pickle=False) as result:
                if "error" in result:
                    results.append(str(result["error"]))
                else:
                    results.append([result[f"out_{i}"] for i in range(len(result.files))])
        return results


if __name__ == "__main__":  # pragma: no cover - a manual check: is the venv usable?
    print("onnx2tf venv:", venv(), "ready" if available() else "missing: " + install_hint())
    sys.exit(0 if available() else 1)
