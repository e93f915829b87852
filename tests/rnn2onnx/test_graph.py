"""The activation forms the emitters use, against the reference's own activations,
in both dtypes (float64 uses exact compositions where onnxruntime is float-only)."""
import numpy as np
import onnx
import pytest


from reference import activations
from rnn2onnx import runtimes
from rnn2onnx.errors import ExportError
from rnn2onnx.graph import Graph, emit_activation, finish_model

X = np.concatenate([np.linspace(-800, 800, 41), np.linspace(-3, 3, 61), [-2.5, 2.5, 0.0]]).reshape(-1, 3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activation_forms(name, dtype):
    g = Graph("act", dtype, 21)
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


def test_unknown_activation_has_no_onnx_form():
    g = Graph("act", "float32", 21)
    x = g.add_input("x", [None, 3])
    with pytest.raises(ExportError, match="no ONNX form"):
        emit_activation(g, activations.get(lambda v: v * 2), x, "layer_1")


def test_constants_are_shared_and_names_unique():
    g = Graph("g", "float32", 21)
    assert g.const([1, 2]) == g.const([1, 2])
    assert g.const([1, 2]) != g.const([1, 2], dtype="int32")
    assert g.unique("a") == "a" and g.unique("a") == "a_2"
    sub = g.subgraph("body")
    assert sub.unique("a") == "a_3"  # one namespace across the whole model
