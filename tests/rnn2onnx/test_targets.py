"""The target records (rnn2onnx/targets.py): each field is what the exported forms obey,
for every registered record and for a fake record with that one field changed (a new
target is one new record: registered, it is exported, refused by name when absent,
offered by the CLI and held to the runtimes it names)."""
import dataclasses

import pytest

import rnn2onnx
from reference import GRU, LSTM, Bidirectional, Dense, SimpleRNN
from rnn2onnx import runtimes, targets
from rnn2onnx.conformance.models import build_model
from rnn2onnx.errors import ExportError
from rnn2onnx.exporter import build
from rnn2onnx.graph import all_graphs
from rnn2onnx.passes import guard_empty, pad_empty
from rnn2onnx.targets import TARGETS


def _model(layer, dtype="float32", embedded=False, head=None):
    """[Embedding(9, 2, mask_zero) ->] layer [-> head], every weight from N(0, 0.6^2)."""
    layers = [layer] + ([head] if head is not None else [])
    return build_model(layers, "embedding" if embedded else "float", dtype, weights=0.6, vocab=9, features=2)


def _ops(proto):
    return {node.op_type for graph in all_graphs(proto.graph) for node in graph.node}


def _nodes(proto, op):
    return [node for graph in all_graphs(proto.graph) for node in graph.node if node.op_type == op]


def _bodies(proto):
    return [graph for graph in all_graphs(proto.graph) if graph is not proto.graph and graph.input]


def _form(model, target, key):
    return {name: (form, reason) for name, form, reason in rnn2onnx.plan(model, target=target)}[key]


def _attr(node, name):
    return next((a for a in node.attribute if a.name == name), None)


# field -> (what the export of `target` shows of it, what the record says it must show)
def _sigmoid_op(target):
    model = _model(SimpleRNN(3, activation="sigmoid", input_shape=(None, 2)), "float64")
    return "Sigmoid" in _ops(build(model, target=target)[0])


def _log_softmax_in_loop(target):
    model = _model(SimpleRNN(3, activation="softmax", input_shape=(None, 2)), head=Dense(2, activation="softmax"))
    proto = build(model, target=target, strategy="loop")[0]
    bodies = _bodies(proto)
    outside = {node.op_type for graph in all_graphs(proto.graph) if graph not in bodies for node in graph.node}
    assert "Softmax" in outside and "LogSoftmax" not in outside  # the head's: a Softmax outside loops
    return "LogSoftmax" in {node.op_type for body in bodies for node in body.node}


def _softplus_op(target):
    model = _model(SimpleRNN(3, activation="softplus", input_shape=(None, 2)))
    return "Softplus" in _ops(build(model, target=target)[0])


def _relu_gru_native(target):
    model = _model(GRU(3, activation="relu", inner_activation="sigmoid", input_shape=(None, 2)))
    return _form(model, target, "gru_1")[0] == "native"


def _masked_form(target):
    model = _model(LSTM(3, activation="tanh", inner_activation="sigmoid"), embedded=True)
    form, reason = _form(model, target, "lstm_1")
    return None if form == "native-segment" else reason


def _reverse_op(target):
    model = _model(LSTM(3, activation="tanh", inner_activation="sigmoid", go_backwards=True, input_shape=(None, 2)))
    (node,) = _nodes(build(model, target=target)[0], "LSTM")
    direction = _attr(node, "direction")
    return direction is not None and direction.s == b"reverse"


def _bidirectional_form(target):
    model = _model(Bidirectional(LSTM(3, activation="tanh", inner_activation="sigmoid", return_sequences=True),
                                 input_shape=(None, 2)))
    return _form(model, target, "bidirectional_1")[0].startswith("native (direction=bidirectional)")


def _initial_states(target):
    model = _model(LSTM(3, activation="tanh", inner_activation="sigmoid", input_shape=(None, 2)))
    (node,) = _nodes(build(model, target=target)[0], "LSTM")
    return len(node.input) > 5 and node.input[5] != ""


def _named_body_dims(target):
    model = _model(SimpleRNN(3, input_shape=(None, 2)))
    (body,) = _bodies(build(model, target=target, strategy="loop")[0])
    return any(d.dim_param for value in body.input for d in value.type.tensor_type.shape.dim)


def _time_major(target):
    model = _model(SimpleRNN(3, input_shape=(None, 2)))
    (scan,) = _nodes(build(model, target=target, strategy="loop")[0], "Scan")
    axes = _attr(scan, "scan_input_axes")
    return axes is None or set(axes.ints) == {0}


def _body_weights(target):
    model = _model(SimpleRNN(3, input_shape=(None, 2)))
    (body,) = _bodies(build(model, target=target, strategy="loop")[0])
    return len(body.initializer) > 0


def _guarded(target):
    """Whether the file has the empty-input guard (an If at the top); and the passes the
    export applied are the record's: the same file as the unpassed export rewritten by them."""
    model = _model(SimpleRNN(3, input_shape=(None, 2)))
    proto, bare = build(model, target=target)[0], build(model, target=target, passes=())[0]
    for rewrite in TARGETS[target].late_passes:
        rewrite(bare)
    assert proto.SerializeToString() == bare.SerializeToString()
    return "If" in {node.op_type for node in proto.graph.node}


def _held_runtime(target):
    return runtimes.get("openvino").known_limit(target, "float32") is None


OBSERVED = {
    "float64_sigmoid_as_tanh": (_sigmoid_op, lambda t: not t.float64_sigmoid_as_tanh),
    "loop_softmax_as_log": (_log_softmax_in_loop, lambda t: t.loop_softmax_as_log),
    "float32_softplus_op": (_softplus_op, lambda t: t.float32_softplus_op),
    "native_activations": (_relu_gru_native, lambda t: t.native_activations is None
                           or t.native_activations["GRU"] == ("sigmoid", "relu")),
    "masked_native_refusal": (_masked_form, lambda t: t.masked_native_refusal),
    "native_reverse": (_reverse_op, lambda t: t.native_reverse),
    "bidirectional_native_refusal": (_bidirectional_form, lambda t: t.bidirectional_native_refusal is None),
    "explicit_initial_states": (_initial_states, lambda t: t.explicit_initial_states),
    "strict_loop_body": (_named_body_dims, lambda t: not t.strict_loop_body),
    "time_major_scan": (_time_major, lambda t: t.time_major_scan),
    "weights_into_loops": (_body_weights, lambda t: t.weights_into_loops),
    "late_passes": (_guarded, lambda t: guard_empty in t.late_passes),
    "all_runtimes": (_held_runtime, lambda t: t.all_runtimes),
}

DEFAULTS = {"LSTM": ("sigmoid", "tanh", "tanh"), "GRU": ("sigmoid", "tanh"), "RNN": ("tanh",)}
RELU_GRU = dict(DEFAULTS, GRU=("sigmoid", "relu"))


def _changed(field, value):
    """Another value for `field`: its policy the other way round."""
    if isinstance(value, bool):
        return not value
    if field.endswith("_refusal"):
        return "a fake reason" if value is None else None
    if field == "native_activations":
        return DEFAULTS if value is None else None
    if field == "late_passes":
        return (pad_empty,) if guard_empty in value else (guard_empty,)
    raise AssertionError(field)


def test_every_policy_field_is_observed():
    fields = {f.name for f in dataclasses.fields(targets.Target)}
    assert fields - {"name", "summary", "native_activations_why"} == set(OBSERVED)


@pytest.mark.parametrize("field", sorted(OBSERVED))
@pytest.mark.parametrize("base", sorted(TARGETS))
def test_the_export_obeys_each_field(base, field, monkeypatch):
    observe, expected = OBSERVED[field]
    record = TARGETS[base]
    assert observe(base) == expected(record)
    fake = dataclasses.replace(record, name="fake", **{field: _changed(field, getattr(record, field))})
    monkeypatch.setitem(TARGETS, "fake", fake)
    assert expected(fake) != expected(record)
    assert observe("fake") == expected(fake)


def test_a_new_record_is_a_new_target(monkeypatch, capsys):
    model = _model(GRU(3, activation="relu", inner_activation="sigmoid", input_shape=(None, 2)))
    with pytest.raises(ExportError, match="unknown target 'fake'; accepted: onnxruntime, portable$"):
        rnn2onnx.export(model, target="fake")
    with pytest.raises(ExportError, match="unknown target \\['portable'\\]; accepted"):
        rnn2onnx.export(model, target=["portable"])
    fake = dataclasses.replace(TARGETS["portable"], name="fake", summary="a fake target",
                               native_activations=RELU_GRU)
    monkeypatch.setitem(TARGETS, "fake", fake)
    proto = rnn2onnx.export(model, target="fake")  # validated against the reference in onnxruntime
    assert {p.key: p.value for p in proto.metadata_props}["rnn2onnx.target"] == "fake"
    assert "GRU" in _ops(proto) and "If" not in _ops(proto)  # native relu GRU; pad_empty, no guard
    from rnn2onnx.cli import build_parser

    assert build_parser().parse_args(["inspect", "m.json", "--target", "fake"]).target == "fake"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["inspect", "--help"])
    assert "fake: a fake target" in " ".join(capsys.readouterr().out.split())
