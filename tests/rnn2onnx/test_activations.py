"""The activation table's ONNX forms (reference/activations.py, emitted by
rnn2onnx/activations.py) against its own NumPy forms: every activation, both dtypes, every
target's record (the target-dependent forms); the native RNN-op activations; the refusals,
which list the table's names."""
import numpy as np
import onnx
import pytest

import rnn2onnx
from reference import Sequential, SimpleRNN, activations
from rnn2onnx import runtimes
from rnn2onnx.activations import emit_activation
from rnn2onnx.errors import ExportError
from rnn2onnx.graph import OnnxGraph, finish_model, walk_nodes
from rnn2onnx.targets import TARGETS

X = np.concatenate([np.linspace(-800, 800, 41), np.linspace(-3, 3, 61), [-2.5, 2.5, 0.0]]).reshape(-1, 3)


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activation_forms(name, dtype, target):
    g = OnnxGraph("act", dtype, 21, target=target)
    x = g.add_input("x", [None, 3])
    y = emit_activation(g, activations.get(name), x, "act")
    if y == x:
        y = g.node("Identity", [x], "act/Identity")
    g.add_output(y, [None, 3])
    model = finish_model(g, 21, {})
    onnx.checker.check_model(model, full_check=True)
    data = X.astype(dtype)
    with np.errstate(over="ignore"):
        expected = activations.get(name)(data)
    (actual,) = runtimes.load("onnxruntime", model)({"x": data})
    tol = 1e-15 if dtype == "float64" else 2e-7
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def _rnn(activation):
    model = Sequential(seed=0)
    model.add(SimpleRNN(3, activation=activation, input_shape=(None, 2)))
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(0.0, 0.8, w.shape) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("name", [n for n, a in activations.ACTIVATIONS.items() if a.native is not None])
def test_native_activations_compute_the_numpy_forms(name):
    """The table's (name, alpha, beta) in ONNX's RNN op: export validates the file against
    the reference model in onnxruntime."""
    proto = rnn2onnx.export(_rnn(name), strategy="native")
    (node,) = [n for n in walk_nodes(proto.graph) if n.op_type == "RNN"]
    (names,) = [a.strings for a in node.attribute if a.name == "activations"]
    assert [s.decode() for s in names] == [activations.ACTIVATIONS[name].native[0]]


def test_refusals_list_the_table():
    native = [n for n, a in activations.ACTIVATIONS.items() if a.native is not None]
    with pytest.raises(ExportError, match="activation 'softplus': onnxruntime's native kernels compute softplus"):
        rnn2onnx.export(_rnn("softplus"), strategy="native")

    def tanh(x):  # a plain callable with a built-in's name: its function is not known
        return np.tanh(x)

    with pytest.raises(ExportError) as refused:
        rnn2onnx.export(_rnn(tanh), strategy="native")
    assert f"activation 'tanh' is not one of the ONNX native RNN activations ({', '.join(native)})" in \
        str(refused.value)
    with pytest.raises(ExportError) as refused:
        rnn2onnx.export(_rnn(tanh))
    assert str(refused.value).endswith("activation 'tanh' has no ONNX form (a plain callable, not the built-in "
                                       f"tanh); built-in activations: {', '.join(activations.ACTIVATIONS)}")
    g = OnnxGraph("act", "float32", 21)
    with pytest.raises(ExportError) as refused:
        emit_activation(g, activations.get(lambda v: v * 2), g.add_input("x", [None, 3]), "layer_1")
    assert str(refused.value) == ("layer_1: activation '<lambda>' has no ONNX form; use one of "
                                  f"{', '.join(activations.ACTIVATIONS)}")
