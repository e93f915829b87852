"""export(): every layer x mask source x return_sequences x dtype x strategy agrees
with the reference in onnxruntime; the forms chosen; the graph's contract; errors."""
import itertools
import os

import numpy as np
import onnx
import pytest

import rnn2onnx
from rnn2onnx.graph import walk_nodes
from reference import GRU, LSTM, Activation, Dense, Dropout, Embedding, Layer, Sequential, SimpleRNN
from rnn2onnx import ExportError, ValidationError, runtimes
from rnn2onnx.emitters import EMITTERS
from rnn2onnx.exporter import TARGETS
from rnn2onnx.validation import TOLERANCE, compare, generate_inputs

from .models import CELLS, MASK_SOURCES, build

NATIVE_WHEN_EXACT = {"GRU", "LSTM", "JZS1", "JZS2"}  # SimpleRNN: loop measured faster
# auto's form for a masked float32 layer with Keras's default activations, by
# (cell, return_sequences): LSTM's masked native forms; the GRU op's segment form (GRU,
# JZS1, JZS2) up to a batch size, the Scan above (the batch-size dispatch); the rows form
# (their defaults with return_sequences=True) is slower than the Scan (strategy="native" uses it)
MASKED_AUTO = {("LSTM", False): "native-segment", ("LSTM", True): "native-reset",
               **{(cell, False): "dispatch(native-segment | loop, batch <= 4)" for cell in ("GRU", "JZS1", "JZS2")}}


# That every layer x mask x return_sequences x dtype x strategy x target x opset computes
# the reference's numbers is the conformance matrix's main group (its quick subset in
# test_conformance.py, all of it under `slow`); here: the form each one takes, and the
# numbers of the one layer setting the matrix does not hold (SimpleDeepRNN of depth 1).
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("strategy", ["auto", "loop"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("mask_source", MASK_SOURCES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_export_forms(cell, mask_source, return_sequences, strategy, dtype):
    model = build(cell, mask_source, return_sequences, dtype)
    if cell == "SimpleDeepRNN1":
        proto = rnn2onnx.export(model, strategy=strategy, validate=False)
        report = rnn2onnx.validate(model, proto, raise_on_failure=False)
        assert report.passed, report.format_table()
        assert report.outputs[0].max_rel_error <= TOLERANCE[dtype]
    form = dict((name, f) for name, f, _ in rnn2onnx.plan(model, strategy=strategy))
    recurrent = [layer.name for layer in model.layers if type(layer).__name__ in
                 ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")][0]
    expected = "loop"
    if strategy == "auto" and dtype == "float32" and mask_source == "none" and cell in NATIVE_WHEN_EXACT:
        expected = "native"
    elif strategy == "auto" and dtype == "float32" and mask_source != "none":
        expected = MASKED_AUTO.get((cell, return_sequences), "loop")
    assert form[recurrent] == expected


@pytest.mark.parametrize("cell", ["SimpleRNN", "GRU", "LSTM", "JZS1", "JZS2"])
def test_native_and_loop_forms_agree_with_each_other(cell):
    model = build(cell, return_sequences=True)
    X = np.random.default_rng(3).normal(size=(5, 9, 4)).astype(np.float32)
    native = runtimes.load("onnxruntime", rnn2onnx.export(model, strategy="native"))({"input": X})[0]
    loop = runtimes.load("onnxruntime", rnn2onnx.export(model, strategy="loop"))({"input": X})[0]
    assert np.max(np.abs(native - loop)) <= 1e-5 * np.max(np.abs(loop))
    assert any(n.op_type in ("LSTM", "GRU", "RNN") for n in walk_nodes(rnn2onnx.export(model, strategy="native").graph))


@pytest.mark.parametrize("cell,inner", [("JZS1", "hard_sigmoid"), ("JZS1", "sigmoid"),
                                        ("JZS2", "hard_sigmoid"), ("JZS2", "sigmoid")])
def test_jzs_lowering_to_gru_is_exact(cell, inner):
    model = build(cell, inner_activation=inner)
    proto = rnn2onnx.export(model, strategy="native")
    assert [n.op_type for n in walk_nodes(proto.graph)].count("GRU") == 1
    assert rnn2onnx.validate(model, proto).passed


def test_jzs_with_a_gate_activation_that_is_not_point_symmetric_is_not_native():
    model = build("JZS2", inner_activation="tanh")
    with pytest.raises(ExportError, match="point-symmetric"):
        rnn2onnx.export(model, strategy="native")
    assert rnn2onnx.plan(model)[0][1] == "loop"


@pytest.mark.parametrize("activation,inner,portable_native", [
    ("tanh", "hard_sigmoid", False), ("tanh", "sigmoid", True), ("relu", "sigmoid", False),
    ("linear", "sigmoid", False), ("tanh", "relu", False)])
def test_portable_target_uses_native_ops_only_with_onnx_default_activations(activation, inner, portable_native):
    # tract ignores the `activations` attribute and computes ONNX's defaults (sigmoid, tanh)
    model = build("LSTM", activation=activation, inner_activation=inner)
    assert rnn2onnx.plan(model, target="onnxruntime")[0][1] == "native"
    assert rnn2onnx.plan(model, target="portable")[0][1] == ("native" if portable_native else "loop")
    proto = rnn2onnx.export(model, target="portable")
    ops = {n.op_type for n in walk_nodes(proto.graph)}
    assert ("LSTM" in ops) == portable_native


@pytest.mark.parametrize("opset", [13, 17, 18, "max"])
def test_opsets(opset):
    opset = max(rnn2onnx.supported_opsets()) if opset == "max" else opset
    for source in ("masking", "embedding", "none"):
        model = build("LSTM", source, return_sequences=True)
        proto = rnn2onnx.export(model, opset=opset)
        assert proto.opset_import[0].version == opset


def test_graph_contract(tmp_path):
    model = build("GRU", "embedding", return_sequences=True)
    path = tmp_path / "m.onnx"
    proto = rnn2onnx.export(model, path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "input" and inp.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert [d.dim_param for d in inp.type.tensor_type.shape.dim] == ["batch", "time"]
    assert out.name == "output"
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch", "time", 3]
    inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    shapes = {v.name: v.type.tensor_type.shape for v in inferred.graph.value_info}
    for node in inferred.graph.node:
        for name in node.output:
            if name and name != "output":
                assert name in shapes, f"no inferred shape for {name}"
                assert all(d.dim_param or d.HasField("dim_value") for d in shapes[name].dim), name
    names = {i.name for i in proto.graph.initializer if not i.name.startswith("const/")}
    assert names and all(n.split("/")[0] in {"embedding_1", "gru_1", "timedistributeddense_1"} for n in names)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["producer"].startswith("rnn2onnx")
    assert '"name": "GRU"' in meta["rnn2onnx.layer.gru_1"]


def test_float_input_is_batch_time_features():
    model = build("LSTM", "none")
    inp = rnn2onnx.export(model).graph.input[0]
    dims = inp.type.tensor_type.shape.dim
    assert [dims[0].dim_param, dims[1].dim_param, dims[2].dim_value] == ["batch", "time", 4]


def test_stacked_model_with_dropout_and_activation():
    model = Sequential(seed=1)
    model.add(Embedding(11, 5, mask_zero=True))
    model.add(LSTM(7, return_sequences=True))
    model.add(Dropout(0.3))
    model.add(GRU(6))
    model.add(Dense(4))
    model.add(Activation("softmax"))
    assert rnn2onnx.validate(model, rnn2onnx.export(model)).passed


def test_validation_failure_leaves_no_file(tmp_path, monkeypatch):
    model = Sequential(seed=0)
    model.add(SimpleRNN(3, input_shape=(None, 2)))
    model.add(Dropout(0.5))

    def wrong_dropout(layer, ctx, x, mask):  # forgets the (1-p) scale
        return x, mask

    monkeypatch.setitem(EMITTERS, "Dropout", wrong_dropout)
    path = tmp_path / "bad.onnx"
    with pytest.raises(ValidationError) as err:
        rnn2onnx.export(model, path)
    assert not err.value.report.passed
    assert os.listdir(tmp_path) == []


def test_write_is_atomic_replace(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    rnn2onnx.export(build("GRU"), path)
    assert onnx.load(path).graph.output[0].name == "output"
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]


class Custom(Layer):
    pass


def test_errors_are_one_clear_sentence():
    model = build("GRU")
    with pytest.raises(ExportError, match="strategy"):
        rnn2onnx.export(model, strategy="fastest")
    with pytest.raises(ExportError, match="target"):
        rnn2onnx.export(model, target="tpu")
    with pytest.raises(ExportError, match="opset 12 is not supported; use an opset from 13"):
        rnn2onnx.export(model, opset=12)
    with pytest.raises(ExportError, match=r"layer simpledeeprnn_1 \(SimpleDeepRNN\) cannot be exported natively"):
        rnn2onnx.export(build("SimpleDeepRNN3"), strategy="native")
    with pytest.raises(ExportError, match="float32-only"):
        rnn2onnx.export(build("GRU", "embedding", return_sequences=True, dtype="float64"), strategy="native")
    with pytest.raises(ExportError, match="float32-only"):
        rnn2onnx.export(build("LSTM", dtype="float64"), strategy="native")

    custom = Sequential()
    custom.add(SimpleRNN(3, input_shape=(None, 2)))
    layer = Custom()
    custom.add(layer)
    with pytest.raises(ExportError, match="custom_1 \\(Custom\\) has no ONNX emitter; exportable layers: .*LSTM"):
        rnn2onnx.export(custom)

    def swish(x):
        return x / (1 + np.exp(-x))

    odd = Sequential()
    odd.add(SimpleRNN(3, activation=swish, input_shape=(None, 2)))
    with pytest.raises(ExportError, match="activation 'swish' has no ONNX form"):
        rnn2onnx.export(odd)

    unknown_shape = Sequential()
    unknown_shape.add(SimpleRNN(3))
    with pytest.raises(ExportError, match="input shape is unknown"):
        rnn2onnx.export(unknown_shape)


def test_export_without_path_returns_validated_proto():
    proto = rnn2onnx.export(build("JZS3", "masking", True, "float64"))
    assert isinstance(proto, onnx.ModelProto)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def _bodies(proto):
    return [(node, attr.g) for node in walk_nodes(proto.graph) for attr in node.attribute if attr.name == "body"]


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("mask_source", MASK_SOURCES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_loop_op_loop_wraps_the_same_step_body_in_an_onnx_loop(cell, mask_source, return_sequences):
    model = build(cell, mask_source, return_sequences)
    for target in ("onnxruntime", "portable"):
        scan = rnn2onnx.export(model, strategy="loop", target=target)
        loop = rnn2onnx.export(model, strategy="loop", target=target, loop_op="loop")  # validated in onnxruntime
        ((scan_node, scan_body),), ((loop_node, loop_body),) = _bodies(scan), _bodies(loop)
        assert (scan_node.op_type, loop_node.op_type) == ("Scan", "Loop")
        # the Loop body = the Scan body + a Gather of step t per per-step input + the condition
        # + each per-step output flattened (rank 1)
        n_step_inputs = next(a.i for a in scan_node.attribute if a.name == "num_scan_inputs")
        t, cond_out = loop_body.input[0].name, loop_body.output[0].name
        n_states = len(loop_node.input) - 2
        flat = {o.name for o in loop_body.output[1 + n_states:]}
        gathers = [n for n in loop_body.node if n.op_type == "Gather" and n.input[1] == t]
        rest = [n for n in loop_body.node if n not in gathers and n.output[0] not in flat | {cond_out}]
        assert len(gathers) == n_step_inputs
        assert [n.op_type for n in rest] == [n.op_type for n in scan_body.node]
        assert {n.op_type for n in loop_body.node if n.output[0] in flat} <= {"Reshape"}
        assert all(o.name and o.type.tensor_type.HasField("shape") for o in loop_body.output)
        assert all(loop_node.input[:2])  # trip count and cond: no omitted optional input
    assert "Scan" not in {n.op_type for n in walk_nodes(loop.graph)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_loop_files_agree_in_onnx_reference_evaluator(cell, dtype):
    """onnx's ReferenceEvaluator (an independent reader of the spec) runs a Loop without
    `cond` zero times, and stacks per-step outputs with np.vstack: the Loop form is made
    for both."""
    from onnx.reference import ReferenceEvaluator

    for target, mask_source, return_sequences in itertools.product(TARGETS, MASK_SOURCES, (False, True)):
        model = build(cell, mask_source, return_sequences, dtype=dtype)
        proto = rnn2onnx.export(model, strategy="loop", target=target, loop_op="loop", validate=False)
        evaluator = ReferenceEvaluator(proto)
        for X in (generate_inputs(model, n=3, T=5), generate_inputs(model, n=1, T=1, seed=1)):
            (got,) = evaluator.run(None, {"input": X})
            result = compare(model.predict(X), got, "output", dtype)
            assert result.passed, (target, mask_source, return_sequences, result)


def test_unknown_loop_op_is_refused():
    with pytest.raises(ExportError, match="accepted: scan, loop"):
        rnn2onnx.export(build("GRU"), loop_op="while")


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_portable_loop_bodies_follow_the_rules_every_runtime_accepts(cell):
    """tract's rules (emitters/loop.py): no named dims in body inputs, every state input
    read, no per-step output read in the body; the onnxruntime target keeps the named
    batch (onnxruntime runs it faster)."""
    for mask_source in MASK_SOURCES:
        for rs in (False, True):
            model = build(cell, mask_source, rs)
            for target in ("portable", "onnxruntime"):
                ((node, body),) = _bodies(rnn2onnx.export(model, strategy="loop", target=target, validate=False))
                names = {v.type.tensor_type.shape.dim[0].dim_param for v in body.input}  # the batch dims
                read = {i for n in body.node for i in n.input}
                n_states = len(node.input) - next(a.i for a in node.attribute if a.name == "num_scan_inputs")
                if target == "onnxruntime":
                    assert names == {"batch"}
                    continue
                assert names == {""}
                assert all(v.name in read for v in body.input[:n_states]), (cell, mask_source, rs)
                assert not any(v.name in read for v in body.output[n_states:]), (cell, mask_source, rs)


@pytest.mark.parametrize("loop_op", ["scan", "loop"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_onnxruntime_loop_bodies_hold_their_weights_and_scan_time_major(cell, loop_op, monkeypatch):
    """target="onnxruntime": the weights only the loop body reads are the body's own
    initializers (onnxruntime prepacks those alone), moved, not copied; its Scan runs over
    axis 0 of time-major inputs. The portable target keeps both as they were: weights in
    the main graph, Scan over axis 1. A model large enough for external data keeps its
    weights in the main graph too."""
    import importlib

    from rnn2onnx.exporter import build as export_build, initializer_bytes

    export_module = importlib.import_module("rnn2onnx.exporter")

    model = build(cell, "embedding", True)
    layer = model.layers[1].name
    for target in TARGETS:
        proto = export_build(model, strategy="loop", target=target, loop_op=loop_op)[0]
        ((node, body),) = _bodies(proto)
        main, own = {t.name for t in proto.graph.initializer}, {t.name for t in body.initializer}
        read = {i for n in body.node for i in n.input}
        weights = {name for name in read & (main | own) if name.startswith(f"{layer}/")}
        assert weights and not main & own and own <= read
        axes = {a.name: list(a.ints) for a in node.attribute if a.name.startswith("scan_")}
        if target == "onnxruntime":
            assert weights <= own
            assert axes == {}  # axis 0 throughout
        else:
            assert not body.initializer and weights <= main
            assert loop_op == "loop" or set(axes["scan_input_axes"]) == {1}
    small = initializer_bytes(export_build(model, strategy="loop", loop_op=loop_op)[0])
    monkeypatch.setattr(export_module, "EXTERNAL_DATA_THRESHOLD", small - 1)
    proto = export_build(model, strategy="loop", loop_op=loop_op)[0]
    assert not _bodies(proto)[0][1].initializer and initializer_bytes(proto) == small


def test_every_registered_layer_has_an_emitter():
    from reference.registry import LAYERS

    assert set(LAYERS) <= set(EMITTERS)


@pytest.mark.parametrize("target", ["onnxruntime", "portable"])
def test_plan_names_the_forms_the_export_uses(target):
    """plan() decides without emitting the recurrent layers' nodes (no weights computed):
    its forms are the ones build() emits."""
    from rnn2onnx.exporter import build as build_graph

    for cell in sorted(CELLS):
        for mask_source in MASK_SOURCES:
            model = build(cell, mask_source, return_sequences=mask_source == "embedding")
            for strategy in ("auto", "loop"):
                planned = {name: (form, why) for name, form, why in rnn2onnx.plan(model, strategy, target)}
                assert planned == build_graph(model, strategy=strategy, target=target)[1]
