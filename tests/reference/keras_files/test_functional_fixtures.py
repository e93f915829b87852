"""Functional models written by Keras 1.2.2, 2.1.6 and 2.3.1 themselves
(tests/fixtures/keras_releases/<release>/fn_*: config, save_weights file, inputs and
Keras's predict) read by the functional reader with a stub translate() for the plain
layers they hold (Embedding, Masking, Dense, LSTM/GRU/SimpleRNN in the 1.x per-gate and
2.x fused layouts, on existing reference classes), built, and compared with Keras's
numbers: 1e-9 relative in float64, 2e-5 in float32; then exported and checked in
onnxruntime. The public loader (keras12) has its own tests on the same files; these
check the functional reader, container and merge layer against Keras."""
import glob
import json
import os

import h5py
import numpy as np
import pytest

from reference.build import build_model
from reference.keras_files.functional import read
from reference.keras_files.spec import KerasFileError, LayerSpec, ModelSpec

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "keras_releases")
TOLERANCE = {"float64": 1e-9, "float32": 2e-5}
#: the functional cases of plain layers and merges (the others need keras12's translations)
PLAIN = ("fn_add_gru_last", "fn_average_lstm_last", "fn_concatenate_last_dense", "fn_concatenate_lstm_seq",
         "fn_dot_last", "fn_maximum_last_dense", "fn_maximum_gru_seq", "fn_minimum_simplernn_last",
         "fn_multiply_simplernn_seq", "fn_shared_lstm_last", "fn_subtract_lstm_seq", "fn_two_outputs")


def _cases():
    out = []
    for manifest in sorted(glob.glob(os.path.join(FIXTURES, "[12].*", "MANIFEST.json"))):
        release = os.path.basename(os.path.dirname(manifest))
        for name, case in json.load(open(manifest))["cases"].items():
            if "files" in case and name.rsplit("_", 1)[0] in PLAIN:
                out.append((release, name))
    return out


def _fused(kind):
    """2.x: kernel, recurrent_kernel, bias with the gates side by side (LSTM i, f, c, o; GRU
    z, r, h) -> the reference's per-gate arrays (LSTM i, c, f, o)."""
    def weight_map(pairs):
        arrays = {name.split("/")[-1].split(":")[0]: a for name, a in pairs}
        K, U, b = arrays["kernel"], arrays["recurrent_kernel"], arrays["bias"]
        if kind == "SimpleRNN":
            return [K, U, b]
        n = 4 if kind == "LSTM" else 3
        parts = [np.split(a, n, axis=-1) for a in (K, U, b)]
        return [p[g] for g in ([0, 2, 1, 3] if kind == "LSTM" else [0, 1, 2]) for p in parts]
    return weight_map


def stub_translate(entry, label):
    kind, c = entry["class_name"], entry["config"]
    if kind == "Embedding":
        return LayerSpec("Embedding", {"input_dim": c["input_dim"], "output_dim": c["output_dim"],
                                       "mask_zero": c.get("mask_zero", False)}, label=label)
    if kind == "Masking":
        return LayerSpec("Masking", {"mask_value": c.get("mask_value", 0.0)}, label=label)
    if kind == "Dense":
        return LayerSpec("Dense", {"output_dim": c.get("units", c.get("output_dim")),
                                   "activation": c.get("activation", "linear")}, label=label)
    if kind in ("LSTM", "GRU", "SimpleRNN"):
        for key in ("go_backwards", "return_state", "reset_after", "stateful"):
            assert not c.get(key), (label, key)  # outside the stub
        arguments = {"output_dim": c.get("units", c.get("output_dim")), "mask_rule": "carry",
                     "return_sequences": c.get("return_sequences", False), "activation": c["activation"]}
        if kind != "SimpleRNN":
            arguments["inner_activation"] = c.get("recurrent_activation", c.get("inner_activation"))
        return LayerSpec(kind, arguments, label=label, weight_map=_fused(kind) if "units" in c else None)
    raise KerasFileError(f"{label}: the stub does not translate {kind}")


def _load(release, name, dtype):
    config = json.load(open(os.path.join(FIXTURES, release, f"{name}.json")))
    spec = read(config["config"], stub_translate, release, "theano")
    model = build_model(ModelSpec(spec, release, "fixture"), dtype=dtype, initialise=False)
    with h5py.File(os.path.join(FIXTURES, release, f"{name}.h5"), "r") as f:
        for layer in model.layers:
            group = f[layer.name]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            pairs = [(n, group[n][()]) for n in names]
            weight_map = getattr(layer, "keras_weight_map", None)
            layer.set_weights(weight_map(pairs) if weight_map else [a for _, a in pairs])
    return model


CASES = _cases()


@pytest.mark.skipif(not CASES, reason="no Keras-written functional fixtures in this tree")
@pytest.mark.parametrize("release, name", CASES, ids=[f"{r}/{n}" for r, n in CASES])
def test_keras_functional_files_reproduce_keras_predict(release, name):
    dtype = "float64" if name.endswith("_f64") else "float32"
    model = _load(release, name, dtype)
    data = np.load(os.path.join(FIXTURES, release, f"{name}.npz"))
    for suffix in ("", "_step"):
        X = [data[f"X{i}{suffix}"] for i in range(len(model.input_names))]
        Ys = model.predict(X)
        Ys = Ys if isinstance(Ys, list) else [Ys]
        keys = [f"Y{i}{suffix}" for i in range(len(Ys))] if len(Ys) > 1 else [f"Y{suffix}"]
        for Y, key in zip(Ys, keys):
            expected = data[key].astype(dtype)
            assert Y.shape == expected.shape and Y.dtype == np.dtype(dtype)
            assert np.max(np.abs(Y - expected)) <= TOLERANCE[dtype] * np.max(np.abs(expected)), (key, name)


EXPORTED = [c for c in CASES if c[1].startswith(("fn_two_outputs", "fn_dot_last", "fn_shared_lstm_last",
                                                 "fn_concatenate_lstm_seq"))]


@pytest.mark.slow
@pytest.mark.skipif(not EXPORTED, reason="no Keras-written functional fixtures in this tree")
@pytest.mark.parametrize("release, name", EXPORTED, ids=[f"{r}/{n}" for r, n in EXPORTED])
def test_keras_functional_files_export_with_named_inputs_and_outputs(release, name):
    import rnn2onnx

    dtype = "float64" if name.endswith("_f64") else "float32"
    model = _load(release, name, dtype)
    proto = rnn2onnx.export(model)  # checked against predict in onnxruntime
    config = json.load(open(os.path.join(FIXTURES, release, f"{name}.json")))["config"]
    assert [v.name for v in proto.graph.input] == [entry[0] for entry in config["input_layers"]]
    assert [v.name for v in proto.graph.output] == model.output_names
