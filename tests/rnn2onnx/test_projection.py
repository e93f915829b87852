"""The hoisted input projection: one function (`Recurrent.project`) run on both op sets,
NumPy's (the reference's forward) and ONNX's (the emitters' `emit_projection`), against
each cell's per-step inputs written out from SPEC."""
import numpy as np
import onnx
import pytest

import reference
from reference import activations
from reference.recurrent.base import NP
from rnn2onnx import runtimes
from rnn2onnx.emitters.loop import emit_projection
from rnn2onnx.graph import OnnxGraph, finish_model

N, T, D, K = 2, 5, 3, 4
TANH, SIGMOID = activations.get("tanh"), activations.get("sigmoid")


def _cat(*arrays):
    return np.concatenate(arrays, axis=-1)


# per cell: its per-step inputs from the input X and weights w (SPEC's formulas)
EXPECTED = {
    "SimpleRNN": lambda X, w: [X @ w["W"] + w["b"]],
    "SimpleDeepRNN": lambda X, w: [X @ w["W"] + w["b"]],
    "LSTM": lambda X, w: [X @ _cat(w["W_i"], w["W_f"], w["W_o"], w["W_c"]) + _cat(w["b_i"], w["b_f"], w["b_o"], w["b_c"])],
    "GRU": lambda X, w: [X @ _cat(w["W_z"], w["W_r"]) + _cat(w["b_z"], w["b_r"]), X @ w["W_h"] + w["b_h"]],
    "JZS1": lambda X, w: [SIGMOID(X @ w["W_z"] + w["b_z"]), X @ w["W_r"] + w["b_r"], np.tanh(X @ w["P"]) + w["b_h"]],
    "JZS2": lambda X, w: [X @ _cat(w["W_z"], w["P"]) + _cat(w["b_z"], w["b_r"]), X @ w["W_h"] + w["b_h"]],
    "JZS3": lambda X, w: [X @ w["W_z"] + w["b_z"], X @ w["W_r"] + w["b_r"], X @ w["W_h"] + w["b_h"]],
}
# a table no cell has: a pre-activation inside a group of two entries (one product, then
# the entries cut apart, activated and put side by side again)
MIXED_GROUP = ([("W_z", "b_z", TANH), ("W_r", "b_r", None)], [("W_h", "b_h", None)])


def _layer(cell, dtype, projection=None):
    layer = getattr(reference, cell)(K, input_shape=(None, D), inner_activation="sigmoid")
    model = reference.Sequential(seed=0, dtype=dtype)
    model.add(layer)
    rng = np.random.default_rng(1)
    layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])  # biases not zero
    if projection is not None:
        layer.projection = projection
    return layer


def _onnx_projection(layer, X):
    g = OnnxGraph("projection", X.dtype, 21)
    x = g.add_input("x", ["batch", "time", D])
    xs = emit_projection(layer, g, x)
    for y in xs:
        g.add_output(y, ["batch", "time", None])
    model = finish_model(g, 21, {})
    onnx.checker.check_model(model, full_check=True)
    return runtimes.load("onnxruntime", model)({x: X})


def _check(layer, X, expected):
    tol = dict(rtol=1e-12, atol=1e-13) if X.dtype == np.float64 else dict(rtol=2e-6, atol=2e-6)
    numpy_xs, _ = layer.project(NP, X, layer.fused_params())
    onnx_xs = _onnx_projection(layer, X)
    assert len(numpy_xs) == len(onnx_xs) == len(expected)
    for a, b, e in zip(numpy_xs, onnx_xs, expected):
        assert a.dtype == b.dtype == X.dtype and a.shape == b.shape == e.shape
        np.testing.assert_allclose(a, e, **tol)
        np.testing.assert_allclose(b, e, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cell", sorted(EXPECTED))
def test_one_projection_on_both_op_sets(cell, dtype):
    layer = _layer(cell, dtype)
    X = np.random.default_rng(2).normal(size=(N, T, D)).astype(dtype)
    w = {name: value.astype(np.float64) for name, value in layer.params.items()}
    _check(layer, X, EXPECTED[cell](X.astype(np.float64), w))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_pre_activation_inside_a_group_of_entries(dtype):
    layer = _layer("GRU", dtype, MIXED_GROUP)
    X = np.random.default_rng(3).normal(size=(N, T, D)).astype(dtype)
    w = {name: value.astype(np.float64) for name, value in layer.params.items()}
    X64 = X.astype(np.float64)
    _check(layer, X, [_cat(np.tanh(X64 @ w["W_z"]) + w["b_z"], X64 @ w["W_r"] + w["b_r"]), X64 @ w["W_h"] + w["b_h"]])
