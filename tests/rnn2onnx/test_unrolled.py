"""The unrolled form (rnn2onnx/emitters/unrolled.py, strategy="unrolled" with fixed_shape):
every cell, mask kind and dtype against model.predict (the reference, itself checked
against Keras 0.2.0); every Keras 0.2.0 fixture with a recurrent layer (containers, layers
around) against Keras's own predictions; no Scan, Loop or If anywhere in a file exported
this way; the fixed-shape API and its errors."""
import numpy as np
import onnx
import pytest

import rnn2onnx
from rnn2onnx import ExportError, masks, runtimes, structure
from rnn2onnx.conformance.matrix import AROUND_LAYERS, CONTAINER_MODELS, Case, make_inputs, make_model
from rnn2onnx.exporter import build
from rnn2onnx.validation import TOLERANCE, compare, port_inputs

from ..reference import keras02
from .models import PATTERNS, sequential
from .test_containers import keras_data, load as load_container

CELLS = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")
CONTROL_FLOW = ("Scan", "Loop", "If")

# (n, T) keep patterns; "none": a float input without a mask
MASKS = {name: PATTERNS[name] for name in ("none", "left", "right", "holes", "all_masked_rows", "length_1")}


def make(cell, mask, return_sequences, dtype, seed=0, **kwargs):
    layer = (cell, dict(kwargs, output_dim=5, return_sequences=return_sequences))
    return sequential([layer], "none" if mask == "none" else "embedding", dtype, seed)


def control_flow(proto):
    """The control-flow ops anywhere in the graph (subgraphs included)."""
    found = []

    def walk(graph):
        for node in graph.node:
            if node.op_type in CONTROL_FLOW:
                found.append(node.op_type)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g)
    walk(proto.graph)
    return found


def error(model, proto, inputs):
    """Worst relative error of onnxruntime on `proto` against model.predict, every output."""
    run = runtimes.load("onnxruntime", proto)
    expected = structure.predict_outputs(model, inputs)
    actual = run(structure.feeds(model, inputs))
    return max(compare(e, a, "y", str(model.dtype)).max_rel_error for e, a in zip(expected, actual))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_mask_and_dtype_matches_the_reference(cell, mask, dtype):
    keep = MASKS[mask]
    rng = np.random.default_rng(1)
    for return_sequences in (False, True):
        model = make(cell, mask, return_sequences, dtype)
        proto, forms = build(model, strategy="unrolled", fixed_shape=keep.shape)
        form = forms[model.layers[-1].name][0]
        native = mask == "none" and dtype == "float32" and cell not in ("SimpleDeepRNN", "JZS3")
        assert form == ("native" if native else "unrolled")
        assert control_flow(proto) == []
        port = structure.model_inputs(model)[0]
        X = port_inputs(port, keep, rng, dtype)
        assert error(model, proto, X) <= TOLERANCE[dtype], (cell, mask, return_sequences)


def test_the_step_is_emitted_once_per_timestep():
    """T steps of the loop body's nodes, each node of the body copied once per step (the
    body's Identity nodes, which only rename a Scan's outputs, are left out)."""
    model = make("JZS3", "holes", True, "float32")
    scan, _ = build(model, strategy="loop", fixed_shape=(2, 9))
    body = next(a.g for n in scan.graph.node if n.op_type == "Scan" for a in n.attribute if a.name == "body")
    body_ops = sorted(n.op_type for n in body.node if n.op_type != "Identity")
    unrolled, _ = build(model, strategy="unrolled", fixed_shape=(2, 9))
    step_ops = sorted(n.op_type for n in unrolled.graph.node if "/step/" in n.name)
    assert step_ops == sorted(body_ops * 9)


@pytest.mark.parametrize("name", sorted(CONTAINER_MODELS))
def test_containers(name):
    """Merge-first Sequentials and Graphs, masked branches with holes, inputs of their own lengths."""
    dtype = "float64"
    case = Case([], "holes", dtype, "unrolled", "onnxruntime", 17, "container", container=name)
    model = make_model(case)
    inputs = make_inputs(case, model)[0]  # the full-length batch
    arrays = structure.as_list(model, inputs)
    fixed = {p.name: (len(a), a.shape[1] if a.ndim >= 2 and (p.ids or len(p.shape) == 2) else 1)
             for p, a in zip(structure.model_inputs(model), arrays)}
    proto, forms = build(model, strategy="unrolled", fixed_shape=fixed)
    assert control_flow(proto) == []
    assert any(form == "unrolled" for form, _ in forms.values())
    assert error(model, proto, inputs) <= TOLERANCE[dtype]


AROUND = [(kind, name, mask, layers) for kind, rows in AROUND_LAYERS.items() for name, mask, layers in rows
          if any(k in CELLS for k, _ in layers)]


@pytest.mark.parametrize("kind, name, mask, layers", AROUND, ids=[row[1] for row in AROUND])
def test_layers_around_recurrent_ones(kind, name, mask, layers):
    """The layers around recurrent ones, in the conformance matrix's stacks (float64: every
    recurrent layer unrolled; fixed lengths where a layer needs one)."""
    case = Case([(k, dict(kw)) for k, kw in layers], mask, "float64", "unrolled", "onnxruntime", 17, "around")
    model = make_model(case)
    inputs = make_inputs(case, model)[0]
    X = structure.as_list(model, inputs)[0]
    if name in DYNAMIC_LENGTH:
        with pytest.raises(ExportError, match="does not follow from the fixed input shapes"):
            build(model, strategy="unrolled", fixed_shape=(X.shape[0], X.shape[1]))
        return
    proto, _ = build(model, strategy="unrolled", fixed_shape=(X.shape[0], X.shape[1]))
    assert control_flow(proto) == []
    assert error(model, proto, inputs) <= TOLERANCE["float64"], name


# Theano's 'same' pooling pads by a length computed in the graph, which ONNX shape
# inference does not follow: the recurrent layer after it cannot be unrolled (refused)
DYNAMIC_LENGTH = {"conv-avgpool-same-theano-gru"}


RECURRENT_FIXTURES = sorted(name for name, entry in keras02.MANIFEST.items()
                            if keras02.layer_names(name) & set(CELLS)
                            and not name.startswith("train_steps"))  # (those predict after training steps)


@pytest.mark.parametrize("name", RECURRENT_FIXTURES)
def test_keras_files_reproduce_keras(name):
    """Keras 0.2.0 files (Sequentials, Merges, Graphs; masks; layers around) unrolled at the
    shape of the inputs Keras predicted on, against Keras's own predictions."""
    if name.startswith(("merge_", "babi_rnn_", "graph_")):
        model = load_container(name)
        _, feeds, Y = keras_data(name)
    else:
        model = keras02.load(name)
        (X,), Y = keras02.data(name)
        feeds, Y = {"input": X}, {"output": Y}
    ports = structure.model_inputs(model)
    fixed = {p.name: (feeds[p.name].shape[0], feeds[p.name].shape[1] if feeds[p.name].ndim > 1 else 1) for p in ports}
    proto, forms = build(model, strategy="unrolled", fixed_shape=fixed)
    assert control_flow(proto) == []
    session = runtimes.load("onnxruntime", proto)
    types = {p.name: np.int64 if p.ids else model.dtype for p in ports}
    got = session({n: np.asarray(x).astype(types[n]) for n, x in feeds.items()})
    floatx = keras02.MANIFEST[name]["floatX"]
    for port, y in zip(structure.model_outputs(model), got):
        assert keras02.relative_error(y, Y[port.name]) <= TOLERANCE[floatx], port.name


def test_export_validates_at_the_fixed_shape():
    """export() validates a fixed-shape file with inputs of that shape (every padding kind
    over successive batches at batch 1), and writes no empty-input guard."""
    model = make("GRU", "holes", False, "float32")
    proto = rnn2onnx.export(model, strategy="unrolled", fixed_shape=(1, 4))
    dims = [[d.dim_value for d in v.type.tensor_type.shape.dim] for v in list(proto.graph.input) + list(proto.graph.output)]
    assert dims == [[1, 4], [1, 5]]
    assert not any(n.op_type in ("Size", "Equal") and "guard" in n.name for n in proto.graph.node)
    assert dict((p.key, p.value) for p in proto.metadata_props)["rnn2onnx.fixed_shape"] == '{"input": [1, 4]}'


def test_auto_with_a_fixed_batch_resolves_the_batch_size_dispatch():
    """The GRU op's masked native form runs up to batch 4 and the Scan above it (a
    batch-size If without fixed shapes): a fixed batch picks one, and no If is written."""
    model = make("GRU", "left", False, "float32", activation="tanh", inner_activation="hard_sigmoid")
    dynamic = dict((k, f) for k, (f, _) in build(model)[1].items())[model.layers[-1].name]
    assert dynamic.startswith("dispatch(")
    for batch, form, op in ((2, "native-segment", "GRU"), (8, "loop", "Scan")):
        proto, forms = build(model, fixed_shape=(batch, 6))
        assert forms[model.layers[-1].name][0] == form
        assert "If" not in control_flow(proto) and op in {n.op_type for n in proto.graph.node}
        keep = np.ones((batch, 6), bool)
        keep[0, :3] = False
        X = port_inputs(structure.model_inputs(model)[0], keep, np.random.default_rng(0), "float32")
        assert error(model, proto, X) <= TOLERANCE["float32"]


def test_fixed_shape_per_input_name():
    model = make_model(Case([], "holes", "float32", "unrolled", "onnxruntime", 17, "container",
                            container="graph-two-io"))
    proto, _ = build(model, strategy="unrolled", fixed_shape={"x": (2, 5), "tok": (2, 3)})
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in proto.graph.input}
    assert shapes == {"x": [2, 5, 4], "tok": [2, 3]}


@pytest.mark.parametrize("options, message", [
    ({"strategy": "unrolled"}, "strategy='unrolled' needs the input shape fixed: give fixed_shape=(batch, time)"),
    ({"strategy": "unrolled", "fixed_shape": (0, 5)}, "two positive integers"),
    ({"strategy": "unrolled", "fixed_shape": (2,)}, "two positive integers"),
    ({"strategy": "unrolled", "fixed_shape": "2x5"}, "two positive integers"),
    ({"strategy": "unrolled", "fixed_shape": {"tokens": (2, 5)}}, "fixed_shape names the model's inputs input; unknown: tokens"),
])
def test_fixed_shape_errors(options, message):
    with pytest.raises(ExportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(make("LSTM", "holes", False, "float32"), **options)


def test_fixed_shape_errors_for_containers():
    model = make_model(Case([], "holes", "float32", "unrolled", "onnxruntime", 17, "container",
                            container="graph-two-io"))
    with pytest.raises(ExportError, match="missing: tok"):
        build(model, strategy="unrolled", fixed_shape={"x": (2, 5)})
    with pytest.raises(ExportError, match="same batch size"):
        build(model, strategy="unrolled", fixed_shape={"x": (2, 5), "tok": (3, 5)})


def test_an_input_of_one_length_takes_only_that_length():
    case = Case([(k, dict(kw)) for k, kw in AROUND_LAYERS["Flatten"][1][2]], "none", "float32", "unrolled",
                "onnxruntime", 17, "around")
    with pytest.raises(ExportError, match="takes sequences of exactly 7 steps, not the 5"):
        build(make_model(case), strategy="unrolled", fixed_shape=(2, 5))


def test_masking_layer_input():
    """A Masking layer's mask (every padding kind in one batch) through the unrolled steps."""
    model = sequential([("LSTM", {"return_sequences": True})], "masking", "float64", seed=3)
    rng = np.random.default_rng(0)
    keep = masks.keep("masking", 8, 5, rng)
    X = port_inputs(structure.model_inputs(model)[0], keep, rng, "float64")
    proto, forms = build(model, strategy="unrolled", fixed_shape=keep.shape)
    assert forms[model.layers[-1].name][0] == "unrolled"
    assert error(model, proto, X) <= TOLERANCE["float64"]


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("rule", ["reset", "skip_batch", "skip_sample", "carry"])
def test_every_mask_rule_and_go_backwards(rule, go_backwards):
    """The mask rules live in the step body the unrolled form copies, and a go_backwards
    layer reads its input reversed (emitters/recurrent.py): both hold without control flow."""
    keep = MASKS["holes"]
    for cell in ("GRU", "LSTM", "SimpleRNN"):
        for dtype in ("float32", "float64"):
            model = make(cell, "holes", True, dtype, mask_rule=rule, go_backwards=go_backwards)
            proto, forms = build(model, strategy="unrolled", fixed_shape=keep.shape)
            assert control_flow(proto) == []
            X = port_inputs(structure.model_inputs(model)[0], keep, np.random.default_rng(2), dtype)
            assert error(model, proto, X) <= TOLERANCE[dtype], (cell, dtype)


@pytest.mark.parametrize("cell, activation, inner, form", [
    ("GRU", "sigmoid", "hard_sigmoid", "native-rows"), ("LSTM", "tanh", "hard_sigmoid", "native-reset")])
def test_masked_native_forms_take_a_fixed_shape(cell, activation, inner, form):
    """strategy='native' with fixed shapes: the masked native forms' ops run on their own
    rows (one per mask segment for the rows form), not on the fixed batch."""
    model = make(cell, "holes", True, "float32", activation=activation, inner_activation=inner)
    keep = MASKS["holes"]
    proto, forms = build(model, strategy="native", fixed_shape=keep.shape)
    assert forms[model.layers[-1].name][0] == form
    X = port_inputs(structure.model_inputs(model)[0], keep, np.random.default_rng(0), "float32")
    assert error(model, proto, X) <= TOLERANCE["float32"]


def test_float64_steps_have_no_gemm():
    """onnx2tf computes a float64 Gemm less exactly than a MatMul (SimpleDeepRNN's lag
    product: 2e-9-8e-9 through TFLite, 6e-16 as a MatMul): float64 steps use MatMul;
    float32 steps keep the Gemm onnxruntime fuses with the activation after it."""
    for dtype, gemm in (("float64", False), ("float32", True)):
        proto, _ = build(make("SimpleDeepRNN", "none", False, dtype), strategy="unrolled", fixed_shape=(2, 4))
        assert ("Gemm" in {n.op_type for n in proto.graph.node}) == gemm, dtype
