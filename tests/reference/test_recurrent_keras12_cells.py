"""GRU(reset_after), Bidirectional and return_state against files written by Keras 1.x/2.x
(tests/fixtures/keras_releases/<release>/): each model is built BY HAND here from its
config and HDF5 weights (h5py, json, numpy only), not through the project's readers, so
this checks the cells' math against the release's own predictions.

Weight mapping used (the reference's orders: reference/recurrent):
- 1.x per-gate layout: the file's arrays in weight_names order are the reference's
  (LSTM W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o, b_o; GRU z, r, h; SimpleRNN W, U, b).
- 2.x: kernel (d, G*k), recurrent_kernel (k, G*k), bias (G*k,) in gate order i, f, c, o (LSTM)
  or z, r, h (GRU): split per gate into the reference's per-gate order. GRU(reset_after=True):
  bias (2, 3k): row 0 the input biases b_z, b_r, b_h, row 1 the recurrent biases bU_z, bU_r, bU_h,
  appended after the nine.
- Bidirectional: the forward layer's arrays then the backward layer's; masked_output "zero"
  for tf.keras (keras_version 2.4.0 and later: Keras 2.4 is tf.keras), "repeat" before.
"""
import glob
import json
import os

import h5py
import numpy as np
import pytest

from reference import GRU, LSTM, Bidirectional, Dense, Embedding, Masking, Sequential, SimpleRNN

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "keras_releases")
RELEASES = ("1.*", "2.*", "tf-*")


def _cases(*patterns):
    """The cases with Keras's predictions (an npz: a case a release could not run has none)."""
    return sorted(p[:-len(".json")] for release in RELEASES for pattern in patterns
                  for p in glob.glob(os.path.join(FIXTURES, release, pattern + ".json"))
                  if os.path.exists(p[:-len(".json")] + ".npz"))


CASES = _cases("bidir_*", "reset_after_*")
# functional models that are a chain Input -> Embedding -> one layer with several outputs
CHAINS = _cases("fn_bidir_*", "fn_return_state_*")
TOLERANCE = {"float64": 1e-9, "float32": 2e-5}
CELLS = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}
GATES_2X = {"LSTM": "ifco", "GRU": "zrh", "SimpleRNN": ""}
ORDER = {"LSTM": "icfo", "GRU": "zrh"}


def _arrays(group):
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
    return [np.array(group[n]) for n in names]


def _weights_2x(kind, arrays, reset_after):
    kernel, recurrent, bias = arrays
    if kind == "SimpleRNN":
        return [kernel, recurrent, bias]
    k = recurrent.shape[0]
    block = {gate: slice(j * k, (j + 1) * k) for j, gate in enumerate(GATES_2X[kind])}
    b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, None)
    weights = []
    for gate in ORDER[kind]:
        weights += [kernel[:, block[gate]], recurrent[:, block[gate]], b_in[block[gate]]]
    if reset_after:
        weights += [b_rec[block[gate]] for gate in "zrh"]
    return weights


def _cell(config, keras2, input_shape=None):
    kind, c = config["class_name"], config["config"]
    kwargs = dict(input_shape=input_shape, return_sequences=c["return_sequences"], go_backwards=c["go_backwards"],
                  mask_rule="carry", activation=c["activation"], return_state=c.get("return_state", False))
    if kind != "SimpleRNN":
        kwargs["inner_activation"] = c["recurrent_activation" if keras2 else "inner_activation"]
    if kind == "GRU" and c.get("reset_after"):
        kwargs["reset_after"] = True
    units = c["units" if keras2 else "output_dim"]
    return CELLS[kind](units, **kwargs)


def build(case, model=None):
    """The model and its weights, from the case's json and h5 by hand (`model`: any object
    with add and set_weights)."""
    config = json.load(open(case + ".json"))
    keras2 = config["keras_version"].startswith("2.")
    tf_keras = tuple(int(v) for v in config["keras_version"].split(".")[:2]) >= (2, 4)
    layers = config["config"] if isinstance(config["config"], list) else config["config"]["layers"]
    layers = [entry for entry in layers if entry["class_name"] != "InputLayer"]
    dtype = "float64" if case.endswith("_f64") else "float32"
    model = Sequential(dtype=dtype) if model is None else model
    weights = []
    with h5py.File(case + ".h5", "r") as h5:
        for entry in layers:
            c = entry["config"]
            group = h5[c["name"]]
            arrays = _arrays(group)
            shape = c.get("batch_input_shape")
            input_shape = None if shape is None else tuple(shape[1:])
            if entry["class_name"] == "Embedding":
                model.add(Embedding(c["input_dim"], c["output_dim"], mask_zero=c["mask_zero"],
                                    input_length=c.get("input_length")))
                weights += arrays
                continue
            if entry["class_name"] == "Masking":
                model.add(Masking(c["mask_value"], input_shape=input_shape))
                continue
            if entry["class_name"] == "Dense":
                model.add(Dense(c["units"], activation=c["activation"]))
                weights += arrays
                continue
            if entry["class_name"] == "Bidirectional":
                inner = c["layer"]
                model.add(Bidirectional(_cell(inner, keras2), merge_mode=c["merge_mode"], input_shape=input_shape,
                                        masked_output="zero" if tf_keras else "repeat"))
                half = len(arrays) // 2
                halves = [arrays[:half], arrays[half:]]
            else:
                inner = entry
                model.add(_cell(inner, keras2, input_shape))
                halves = [arrays]
            reset_after = bool(inner["config"].get("reset_after"))
            for half in halves:
                weights += _weights_2x(inner["class_name"], half, reset_after) if keras2 else half
    model.set_weights(weights)
    return model, dtype


def _relative(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize("case", CASES, ids=lambda p: os.path.relpath(p, FIXTURES))
def test_hand_built_model_reproduces_keras(case):
    model, dtype = build(case)
    data = np.load(case + ".npz")
    for x_key in ("X", "X_step"):
        y_key = "Y" + x_key[1:]
        if x_key not in data or y_key not in data:
            continue
        Y = model.predict(data[x_key])
        assert Y.dtype == np.dtype(dtype)
        assert _relative(Y, data[y_key]) <= TOLERANCE[dtype], (x_key, _relative(Y, data[y_key]))


class Chain:
    """Layers applied one after the other, each handing on its mask; the last may have
    several outputs (a functional model Input -> Embedding -> layer)."""

    def __init__(self, dtype):
        self.dtype, self.layers = dtype, []

    def add(self, layer):
        self.layers.append(layer)

    def set_weights(self, weights):
        shape, rng = None, np.random.default_rng(0)
        for layer in self.layers:
            layer.build(shape or layer.declared_input_shape, self.dtype, rng)
            shape = layer.output_shape(layer.input_shape)
        for layer in self.layers:
            n = len(layer.get_weights())
            layer.set_weights(weights[:n])
            weights = weights[n:]

    def predict(self, X):
        mask = None
        for layer in self.layers:
            X, mask = layer.forward(X, mask), layer.output_mask(mask)
        return X if isinstance(X, list) else [X]


@pytest.mark.parametrize("case", CHAINS, ids=lambda p: os.path.relpath(p, FIXTURES))
def test_hand_built_layer_with_several_outputs_reproduces_keras(case):
    """return_state (output, h(, c)) and Bidirectional(merge_mode=None) (and with
    return_state: outputs, forward states, backward states), each output against Keras's."""
    config = json.load(open(case + ".json"))["config"]
    names = [entry["config"]["name"] for entry in config["layers"]]
    assert {name for name, _, _ in config["output_layers"]} == {names[-1]}  # a chain to one layer
    dtype = "float64" if case.endswith("_f64") else "float32"
    chain, _ = build(case, Chain(dtype))
    data = np.load(case + ".npz")
    x_key = "X0" if "X0" in data else "X"  # one output: X and Y (fixtures README)
    for suffix in ("", "_step"):
        if x_key + suffix not in data:
            continue
        outputs = chain.predict(data[x_key + suffix])
        assert len(outputs) >= len(config["output_layers"])
        for k, (_, _, tensor) in enumerate(config["output_layers"]):
            expected = data[f"Y{k}{suffix}" if f"Y{k}{suffix}" in data else f"Y{suffix}"]
            assert outputs[tensor].dtype == np.dtype(dtype)
            assert _relative(outputs[tensor], expected) <= TOLERANCE[dtype], (k, suffix)
