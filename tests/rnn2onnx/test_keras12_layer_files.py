"""Keras 1.x/2.x files with the layers around recurrent ones (reference/keras_files/layers12.py),
written by the releases themselves (tests/fixtures/keras_releases): loaded and exported, the
ONNX model reproduces Keras's own predictions in onnxruntime (1e-9 relative in float64, 2e-5
in float32, as SPEC's contract says)."""
import json
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras_releases"
# the classes layers12 translates (a case is here when it holds one of them)
LAYER_CLASSES = {"Dense", "TimeDistributed", "TimeDistributedDense", "Conv1D", "Convolution1D", "MaxPooling1D",
                 "AveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling1D", "BatchNormalization", "PReLU",
                 "ELU", "LeakyReLU", "ThresholdedReLU", "ReLU", "Softmax", "Activation", "RepeatVector", "Reshape",
                 "Permute", "Flatten", "Dropout", "SpatialDropout1D", "AlphaDropout", "GaussianNoise",
                 "GaussianDropout"}
TOLERANCE = {"float32": 2e-5, "float64": 1e-9}


def _cases():
    out = []
    for manifest in sorted(FIXTURES.glob("[12].*/MANIFEST.json")):
        cases = json.loads(manifest.read_text())
        cases = cases.get("cases", cases)
        for name, case in sorted(cases.items()):
            files = case.get("files", {})
            if set(case.get("layers", ())) & LAYER_CLASSES and files.get("model_h5") \
                    and (manifest.parent / files["model_h5"]).exists():
                out.append(pytest.param(manifest.parent, case, id=f"{manifest.parent.name}/{name}"))
    return out


def _pairs(case):
    """[(input keys, output keys)]: X/Y, X_step/Y_step (functional: X0, X1 / Y0, Y1 ...)."""
    def suffix(key):
        return key.split("_", 1)[1] if "_" in key else ""

    def index(key):
        digits = key.split("_", 1)[0][1:]
        return int(digits) if digits else 0

    groups = {}
    for key in case["input_keys"]:
        groups.setdefault(suffix(key), ([], []))[0].append(key)
    for key in case["output_keys"]:
        groups.setdefault(suffix(key), ([], []))[1].append(key)
    return [(sorted(i, key=index), sorted(o, key=index)) for i, o in groups.values()]


def _close(got, expected, dtype):
    both_nan = np.isnan(got) & np.isnan(expected)  # GlobalAveragePooling1D of an all-masked sample
    err = np.abs(np.where(both_nan, 0.0, got.astype(np.float64) - expected)) / np.maximum(np.abs(expected), 1.0)
    return float(np.max(err, initial=0.0)) <= TOLERANCE[dtype]


@pytest.mark.slow
@pytest.mark.parametrize("folder, case", _cases())
def test_exported_file_reproduces_keras(folder, case):
    pytest.importorskip("reference.keras_files.keras12")
    import reference
    import rnn2onnx
    from rnn2onnx import runtimes

    model = reference.load_model(str(folder / case["files"]["model_h5"]))
    proto = rnn2onnx.export(model, validate=False)
    run = runtimes.load("onnxruntime", proto)
    names = [i.name for i in proto.graph.input]
    data = np.load(folder / case["files"]["data_npz"])
    dtype = case["floatX"]
    for inputs, outputs in _pairs(case):
        feeds = dict(zip(names, [data[k] for k in inputs]))
        got = run(feeds)
        for key, y in zip(outputs, got):
            assert _close(y, data[key], dtype), key
