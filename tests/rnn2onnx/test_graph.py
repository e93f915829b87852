"""The op-set primitives against NumPy's; the loop bodies' node counts (the activation
forms: test_activations.py)."""
import numpy as np
import onnx
import pytest


from reference import activations
from reference.recurrent.base import NP
from rnn2onnx import runtimes
from rnn2onnx.graph import OnnxGraph, OnnxOps, finish_model

def test_constants_are_shared_and_names_unique():
    g = OnnxGraph("g", "float32", 21)
    assert g.const([1, 2]) == g.const([1, 2])
    assert g.const([1, 2]) != g.const([1, 2], dtype="int32")
    assert g.unique("a") == "a" and g.unique("a") == "a_2"
    sub = g.subgraph("body")
    assert sub.unique("a") == "a_3"  # one namespace across the whole model


def _run_ops(dtype, build, inputs):
    """Run `build(o, *names)` with OnnxOps in onnxruntime on `inputs` (arrays)."""
    g = OnnxGraph("ops", dtype, 21)
    names = [g.add_input(f"x{i}", list(a.shape)) for i, a in enumerate(inputs)]
    y = build(OnnxOps(g, "ops"), *names)
    g.add_output(y, [None, None])
    model = finish_model(g, 21, {})
    onnx.checker.check_model(model, full_check=True)
    (out,) = runtimes.load("onnxruntime", model)(dict(zip(names, inputs)))
    return model, out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_product_feeding_an_activation_is_a_gemm(dtype):
    """onnxruntime fuses an activation into a Gemm, never into a MatMul; a product feeding
    an Add stays a MatMul (onnxruntime turns MatMul+Add into a Gemm itself)."""
    rng = np.random.default_rng(0)
    h, U, x = (rng.normal(size=s).astype(dtype) for s in [(2, 3), (3, 4), (2, 4)])
    sigmoid = activations.get("sigmoid")
    model, out = _run_ops(dtype, lambda o, a, b, c: o.add(c, o.act(sigmoid, o.matmul(a, b))), [h, U, x])
    assert [n.op_type for n in model.graph.node] == ["Gemm", "Sigmoid", "Add"]
    np.testing.assert_allclose(out, x + sigmoid(h @ U), rtol=1e-15 if dtype == "float64" else 2e-7)
    model, _ = _run_ops(dtype, lambda o, a, b, c: o.act(sigmoid, o.add(c, o.matmul(a, b))), [h, U, x])
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Add", "Sigmoid"]


# The nodes of each cell's Scan body after onnxruntime's fusions (MatMul+Add and
# Gemm+activation become one node); at batch 1 a step costs about what its nodes cost.
# SimpleDeepRNN: 3 + depth at depth >= 2 (its pending lag terms are `depth` states)
BODY_NODES = {"SimpleRNN": 1, "SimpleDeepRNN(1)": 3, "SimpleDeepRNN(2)": 5, "SimpleDeepRNN(3)": 6, "GRU": 7,
              "LSTM": 10, "JZS1": 6, "JZS2": 7, "JZS3": 8}


@pytest.mark.parametrize("cell", sorted(BODY_NODES))
def test_loop_body_node_counts(cell):
    import reference
    from rnn2onnx import export
    from rnn2onnx.bench import body_nodes

    name, _, depth = cell.rstrip(")").partition("(")
    model = reference.Sequential(seed=0)
    model.add(getattr(reference, name)(8, input_shape=(None, 4), **({"depth": int(depth)} if depth else {})))
    _, fused = body_nodes(export(model, strategy="loop"))
    assert fused <= BODY_NODES[cell]


def test_an_initializer_asked_for_twice_with_the_same_content_is_stored_once():
    from rnn2onnx.graph import OnnxGraph

    g = OnnxGraph("g", "float32", 21)
    a = g.initializer("layer/W", np.arange(6.0).reshape(2, 3))
    assert g.subgraph("branch").initializer("layer/W", np.arange(6.0).reshape(2, 3)) == a
    assert g.initializer("layer/W", np.arange(6.0).reshape(3, 2)) != a  # another shape
    assert g.initializer("layer/W", np.arange(1.0, 7.0).reshape(2, 3)) != a  # other values
    assert g.initializer("other/W", np.arange(6.0).reshape(2, 3)) != a  # another name
    assert len(g.initializers) == 4 and len({t.name for t in g.initializers}) == 4
