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


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMean", "ReduceSum"])
def test_reduce_takes_its_axes_the_way_the_opset_does(op, opset):
    """Reduce* axes: an attribute up to opset 17, an input from 18 (ReduceSum: from 13);
    the result is the reduction either way."""
    g = OnnxGraph("r", "float64", opset)
    x = g.add_input("x", [2, 3, 4])
    y = g.reduce(op, x, [1], "r/reduce")
    g.add_output(y, [2, 4])
    model = finish_model(g, opset, {})
    onnx.checker.check_model(model, full_check=True)
    (node,) = model.graph.node
    as_input = opset >= (13 if op == "ReduceSum" else 18)
    assert len(node.input) == (2 if as_input else 1)
    assert ("axes" in [a.name for a in node.attribute]) == (not as_input)
    data = np.arange(24.0).reshape(2, 3, 4)
    (actual,) = runtimes.load("onnxruntime", model)({"x": data})
    expected = {"ReduceMax": data[:, 2], "ReduceMean": data[:, 1], "ReduceSum": 3 * data[:, 1]}[op]  # rows step by 4
    np.testing.assert_array_equal(actual, expected)


def test_node_names_its_outputs_after_itself_or_as_given():
    g = OnnxGraph("g", "float32", 21)
    assert g.node("Relu", ["x"], "a/Relu") == "a/Relu"
    assert g.node("Split", ["x"], "a/Split", outputs=2) == ["a/Split:0", "a/Split:1"]
    assert g.node("LSTM", ["x"], "a/LSTM", outputs=[None, "Y_h"]) == ["", "a/LSTM:Y_h"]
    assert g.node("Relu", ["x"], output_names=["y"]) == "y" and g.nodes[-1].name == "y"  # named after its output
    assert g.node("Relu", ["x"], "a/Relu", output_names=["z"]) == "z" and g.nodes[-1].name == "a/Relu_2"
    node = g.prefixed("b")
    assert node("Relu", ["x"]) == "b/Relu" and node("Relu", ["x"], "act") == "b/act"
    into = []
    g.node("Relu", ["x"], "c", into=into)
    assert [n.name for n in into] == ["c"] and g.nodes[-1].name != "c"
    copy = g.copy_node(into[0], "c/t0", ["x0"], ["c/t0"])  # (the node's name first: its output is the next)
    assert copy == ["c/t0_2"] and g.nodes[-1].name == "c/t0" and g.nodes[-1].op_type == "Relu"


def test_a_builder_onto_a_finished_model_avoids_every_name_in_it():
    """OnnxGraph.onto: the late passes' names are new to the model, loop bodies included
    (one namespace: a body's names may not shadow the outer graph's)."""
    g = OnnxGraph("g", "float32", 18)
    x = g.add_input("x", [None, 2])
    body = g.subgraph("body")
    body.inputs = [onnx.helper.make_tensor_value_info("s", onnx.TensorProto.FLOAT, [2])]
    body.node("Relu", ["s"], "inner")
    body.outputs = [onnx.helper.make_tensor_value_info("inner", onnx.TensorProto.FLOAT, [2])]
    y = g.node("Scan", [x], "scan", body=body.make_graph(), num_scan_inputs=1)
    g.add_output(y, [None, 2])
    model = finish_model(g, 18, {})
    later = OnnxGraph.onto(model)
    assert later.opset == 18 and later.dtype == np.float32
    assert [later.unique(n) for n in ("inner", "scan", "x", "new")] == ["inner_2", "scan_2", "x_2", "new"]


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
