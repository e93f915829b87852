"""Export of Keras 1.x/2.x functional models (reference.functional.FunctionalModel): the
graph's inputs and outputs named after the model's input and output layers, in its
order; every merge mode and mask rule, shared and multi-output layers in onnxruntime
against the reference's predict, both dtypes."""
import numpy as np
import onnx
import pytest

import reference as r
import rnn2onnx
from reference.functional import FunctionalModel
from reference.merging import MergeLayer
from rnn2onnx import runtimes, structure
from rnn2onnx.emitters import EMITTERS
from rnn2onnx.errors import ExportError
from rnn2onnx.exporter import plan
from rnn2onnx.validation import TOLERANCE, compare, generate_inputs

from ..reference.test_functional import Halves  # the test layer with two outputs

DTYPES = ("float32", "float64")


def _check(model, n=8, T=7):
    """Export (export checks itself in onnxruntime), then run the file again on inputs of
    every padding kind and compare each output with predict; returns the proto."""
    proto = rnn2onnx.export(model)
    run = runtimes.load("onnxruntime", proto)
    for length in (T, 2):
        X = generate_inputs(model, n=n, T=length, seed=length)
        feed = structure.feeds(model, X)
        actual = run(feed)
        expected = structure.predict_outputs(model, X)
        assert len(actual) == len(expected) == len(model.outputs)
        for port, e, a in zip(structure.model_outputs(model), expected, actual):
            report = compare(e, a, port.name, str(model.dtype))
            assert report.passed, (port.name, report.max_rel_error)
    return proto


def _names(proto):
    initializers = {t.name for t in proto.graph.initializer}
    return ([v.name for v in proto.graph.input if v.name not in initializers], [v.name for v in proto.graph.output])


def _two_inputs(dtype, seed=0):
    m = FunctionalModel(dtype=dtype, seed=seed)
    m.add_input("ids", (None,), "int32")
    m.add_input("floats", (None, 3))
    m.add_node(r.Embedding(9, 3, mask_zero=True), ["ids"], name="emb")
    m.add_node(r.Masking(0.0), ["floats"], name="masking")
    return m


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["sum", "mul", "ave", "max", "min", "sub", "concat"])
def test_each_merge_mode_with_masks_on_both_inputs(mode, dtype):
    m = _two_inputs(dtype)
    m.add_node(MergeLayer(mode), ["emb", "masking"], name="merged")
    m.add_node(r.LSTM(4, return_sequences=True), ["merged"], name="lstm")
    m.add_node(r.GRU(3), ["lstm"], name="gru")
    m.set_outputs(["gru", "merged"])
    proto = _check(m)
    assert _names(proto) == (["ids", "floats"], ["gru", "merged"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_shared_layers_dot_and_a_concat_in_time(dtype):
    m = _two_inputs(dtype, seed=1)
    shared = r.LSTM(4, return_sequences=True)
    m.add_node(shared, ["emb"], name="shared")
    m.add_node(shared, ["masking"])
    m.add_node(MergeLayer("dot", dot_axes=[2, 2]), [("shared", 0), ("shared", 1)], name="scores")
    m.add_node(MergeLayer("dot", dot_axes=[2, 1]), ["scores", ("shared", 1)], name="context")
    m.add_node(MergeLayer("dot", dot_axes=-1, normalize=True, normalize_epsilon=1e-12),
               [("shared", 0), ("shared", 1)], name="cosine")
    m.add_node(MergeLayer("concat", concat_axis=1), [("shared", 0), ("shared", 1)], name="joined")
    m.add_node(r.SimpleRNN(2), ["joined"], name="top")
    m.set_outputs(["top", "context", "cosine"])
    proto = _check(m)
    assert _names(proto) == (["ids", "floats"], ["top", "context", "cosine"])
    keys = [key for key, _, _ in plan(m)]
    assert keys == ["emb", "masking", "shared", "shared/call_1", "scores", "context", "cosine", "joined", "top"]


def _emit_halves(layer, ctx, x, mask):
    g = ctx.g
    k = layer.input_shape[-1] // 2
    first = g.node("Slice", [x, g.const([0]), g.const([k]), g.const([-1])], f"{layer.name}/first")
    second = g.node("Slice", [x, g.const([k]), g.const([1 << 30]), g.const([-1])], f"{layer.name}/second")
    return [first, second], [mask, mask]


@pytest.fixture
def halves_emitter():
    EMITTERS["Halves"] = _emit_halves
    yield
    del EMITTERS["Halves"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_multi_output_layer_names_its_further_outputs_with_suffixes(dtype, halves_emitter):
    m = FunctionalModel(dtype=dtype, seed=2)
    m.add_input("ids", (None,), "int32")
    m.add_node(r.Embedding(9, 6, mask_zero=True), ["ids"], name="emb")
    m.add_node(Halves(), ["emb"], name="halves")
    m.add_node(r.LSTM(3, return_sequences=True), [("halves", 0, 1)], name="second")
    m.set_outputs([("halves", 0, 0), ("halves", 0, 1), "second", "ids"])
    proto = _check(m)
    assert _names(proto) == (["ids"], ["halves", "halves_1", "second", "ids_1"])
    out = {v.name: v for v in proto.graph.output}
    assert out["ids_1"].type.tensor_type.elem_type == onnx.TensorProto.INT64  # the ids as they are


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_functional_chain_exports_as_its_sequential(dtype):
    seq = r.Sequential(dtype=dtype, seed=3)
    seq.add(r.Embedding(9, 4, mask_zero=True))
    seq.add(r.GRU(5, return_sequences=True))
    seq.add(r.LSTM(3))
    m = FunctionalModel(dtype=dtype)
    m.add_input("tokens", (None,), "float32")  # Keras 2.x's Input defaults to float32 before an Embedding
    previous = "tokens"
    for layer in (r.Embedding(9, 4, mask_zero=True), r.GRU(5, return_sequences=True), r.LSTM(3)):
        previous, _ = m.add_node(layer, [previous])
    m.set_outputs([previous])
    m.set_weights(seq.get_weights())
    proto = _check(m)
    assert _names(proto) == (["tokens"], ["lstm_1"])
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    X = generate_inputs(m, n=6, T=5)
    (Y,) = runtimes.load("onnxruntime", proto)({"tokens": X.astype(np.int64)})
    np.testing.assert_allclose(Y, seq.predict(X), rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_output_that_later_calls_read_keeps_its_tensor_for_them(dtype):
    """The LSTM's sequence is an output and the GRU's input; in float32 the GRU is a batch-size
    dispatch whose branches read the sequence by its name: the output is an Identity of it."""
    m = FunctionalModel(dtype=dtype, seed=7)
    m.add_input("ids", (None,), "int32")
    m.add_node(r.Embedding(9, 3, mask_zero=True), ["ids"], name="emb")
    m.add_node(r.LSTM(4, return_sequences=True), ["emb"], name="lstm")
    m.add_node(r.GRU(3), ["lstm"], name="gru")
    m.set_outputs(["lstm", "gru"])
    assert _names(_check(m)) == (["ids"], ["lstm", "gru"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_keras_1_cos_of_two_last_outputs(dtype):
    m = _two_inputs(dtype, seed=6)
    m.add_node(r.LSTM(4), ["emb"], name="a")
    m.add_node(r.GRU(4), ["masking"], name="b")
    m.add_node(MergeLayer("cos", dot_axes=[1, 1]), ["a", "b"], name="cos")
    m.add_node(MergeLayer("dot", dot_axes=1), ["a", "b"], name="dot")
    m.set_outputs(["cos", "dot"])
    proto = _check(m)
    dims = [[d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim] for v in proto.graph.output]
    assert dims == [["batch", 1, 1], ["batch", 1]]


def test_a_call_that_needs_the_length_fixes_it():
    m = FunctionalModel(dtype="float64", seed=4)
    m.add_input("x", (5, 2))
    m.add_input("y", (None, 2))
    m.add_node(r.SimpleRNN(3, return_sequences=True), ["x"], name="rnn")
    m.add_node(r.Flatten(), ["rnn"], name="flat")
    m.add_node(r.GRU(2), ["y"], name="gru")
    m.set_outputs(["flat", "gru"])
    proto = _check(m, T=5)
    dims = [[d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim] for v in proto.graph.input]
    assert dims[0] == ["batch", 5, 2] and dims[1] == ["batch", "time_2", 2]


def test_describe_names_inputs_calls_shared_weights_and_outputs():
    m = _two_inputs("float32", seed=5)
    shared = r.GRU(3, return_sequences=True)
    m.add_node(shared, ["emb"], name="shared")
    m.add_node(shared, ["masking"])
    m.add_node(MergeLayer("ave"), [("shared", 0), ("shared", 1)], name="avg")
    m.set_outputs(["avg"])
    lines = structure.describe(m, plan(m))
    assert lines[0] == "input ids: int64 token ids (batch, time_1)"
    assert lines[1] == "input floats: float32 (batch, time_2, 3)"
    assert any(line.startswith("call shared/call_1 (GRU: ") and "call 2 of 2 (shared weights)) <- masking" in line
               for line in lines)
    assert "call avg (MergeLayer: Add+Div of 2) <- shared, shared[1]" in lines
    assert dict((key, reason) for key, _, reason in plan(m))["avg"] == "mask: the AND of the inputs' masks"
    assert lines[-1] == "output avg: float32 (batch, ?, 3) <- avg"


def test_keras_1_max_with_a_masked_input_is_refused():
    m = _two_inputs("float32")
    m.add_node(MergeLayer("max", refuse_masks=True), ["emb", "masking"], name="merged")
    m.set_outputs(["merged"])
    with pytest.raises(ExportError, match="cannot take masked inputs"):
        rnn2onnx.export(m)


@pytest.mark.parametrize("options", [{"target": "portable"}, {"strategy": "unrolled", "fixed_shape": (2, 5)},
                                     {"strategy": "loop", "loop_op": "loop"}], ids=["portable", "unrolled", "loop"])
def test_every_target_and_strategy_takes_a_functional_model(options):
    m = _two_inputs("float32", seed=8)
    shared = r.GRU(4, return_sequences=True)
    m.add_node(shared, ["emb"], name="shared")
    m.add_node(shared, ["masking"])
    m.add_node(MergeLayer("ave"), [("shared", 0), ("shared", 1)], name="avg")
    m.add_node(r.LSTM(2), ["avg"], name="top")
    m.set_outputs(["top", "avg"])
    proto = rnn2onnx.export(m, **options)  # validated against predict in onnxruntime
    assert _names(proto) == (["ids", "floats"], ["top", "avg"])


def test_validate_takes_the_inputs_as_a_list_in_the_models_order():
    from rnn2onnx.validation import validate

    m = _two_inputs("float64", seed=9)
    m.add_node(MergeLayer("sum"), ["emb", "masking"], name="merged")
    m.add_node(r.SimpleRNN(2), ["merged"], name="rnn")
    m.set_outputs(["rnn", "merged"])
    proto = rnn2onnx.export(m)
    report = validate(m, proto, inputs=generate_inputs(m, n=6, T=4))
    assert report.passed and [o.name for o in report.outputs] == ["rnn", "merged"]
    assert [o.shape for o in report.outputs] == [(6, 2), (6, 4, 3)]
