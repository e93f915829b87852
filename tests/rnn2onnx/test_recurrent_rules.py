"""Exports under each Keras release's mask rule and with go_backwards, against the
reference (whose rules are checked against closed forms in tests/reference): the loop
form on both targets and both loop ops, the native forms where they are exact, and the
portable files on every runtime installed."""
import numpy as np
import pytest

import rnn2onnx
from reference import GRU, JZS1, LSTM, SimpleRNN
from rnn2onnx import ExportError, runtimes
from rnn2onnx.graph import walk_nodes
from rnn2onnx.structure import feeds

from .models import sequential

RULES = ("reset", "skip_batch", "skip_sample", "carry")
CELLS = {
    "LSTM": (LSTM, {}),
    "GRU": (GRU, {}),
    "SimpleRNN": (SimpleRNN, {"activation": "tanh"}),
    "SimpleRNN-mul": (SimpleRNN, {"activation": "tanh", "combine": "mul"}),  # Keras 0.3.0's cell
    "JZS1": (JZS1, {}),
}
ZERO_ROW = 3  # an id whose embedding row is zero: an unmasked all-zero input, which 0.3.0/0.3.1 skip


def ids(dtype_seed=0):
    """Left and right padding, holes, an all-masked row, an unmasked zero input, and a step
    (2) masked in every row (Keras 0.3.0 skips it)."""
    keep = np.array([[0, 0, 0, 1, 1, 1, 1], [1, 1, 0, 1, 1, 0, 0], [1, 0, 0, 1, 0, 1, 0],
                     [0, 0, 0, 0, 0, 0, 0], [1, 1, 0, 1, 1, 1, 1]], bool)
    X = np.where(keep, np.random.default_rng(dtype_seed).integers(4, 9, size=keep.shape), 0)
    X[4, 4] = ZERO_ROW
    return X.astype(np.int64)


def make(cell, dtype="float32", **kw):
    cls, extra = CELLS[cell]
    model = sequential([(cls.__name__, dict(extra, output_dim=5, **kw))], "embedding", dtype)
    weights = model.get_weights()
    weights[0][ZERO_ROW] = 0.0
    model.set_weights(weights)
    return model


def check(model, runtime="onnxruntime", **kw):
    proto = rnn2onnx.export(model, validate=False, **kw)
    report = rnn2onnx.validate(model, proto, inputs=ids(), runtime=runtime, raise_on_failure=False)
    assert report.passed, report.format_table()
    return proto


def forms(model, **kw):
    return [form for _, form, _ in rnn2onnx.plan(model, **kw)[1:] if form]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_loop_form_computes_each_rule(cell, rule, return_sequences, go_backwards, dtype):
    model = make(cell, dtype, mask_rule=rule, return_sequences=return_sequences, go_backwards=go_backwards)
    for loop_op in ("scan", "loop"):
        check(model, strategy="loop", loop_op=loop_op)


def test_the_rules_differ_on_these_inputs():
    """The inputs above tell every rule from the others (else the test above could not fail)."""
    outputs = [make("GRU", "float64", mask_rule=rule, return_sequences=True).predict(ids()) for rule in RULES]
    for i in range(len(RULES)):
        for j in range(i):
            assert np.max(np.abs(outputs[i] - outputs[j])) > 1e-3, (RULES[i], RULES[j])


@pytest.mark.parametrize("rule", ["skip_batch", "skip_sample", "carry"])
@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
def test_the_later_rules_masked_native_forms(cell, rule):
    """Their own forms (emitters/masked_native.py, tested there in depth), never the reset
    rule's: on these inputs (a step masked in every row, an unmasked zero input) too."""
    for go_backwards in (False, True):
        model = make(cell, mask_rule=rule, return_sequences=True, go_backwards=go_backwards)
        form = "native-carry" if rule == "carry" else "native-skip"
        assert forms(model, strategy="native") == [form]
        check(model, strategy="native")


@pytest.mark.parametrize("rule", ["skip_batch", "skip_sample"])
def test_a_mask_the_rule_ignores_leaves_the_native_form(rule):
    """Keras 0.3.0/0.3.1 read no mask without return_sequences: the plain native op is exact."""
    model = make("LSTM", mask_rule=rule)
    assert forms(model) == ["native"]
    check(model)


@pytest.mark.parametrize("target", ["onnxruntime", "portable"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
def test_go_backwards_on_the_native_op(cell, return_sequences, target):
    acts = {"activation": "tanh"} if cell == "SimpleRNN" else {"activation": "tanh", "inner_activation": "sigmoid"}
    layer = dict(acts, output_dim=5, input_shape=(None, 4), return_sequences=return_sequences, go_backwards=True)
    model = sequential([(cell, layer)], seed=1)
    rng = np.random.default_rng(2)
    proto = rnn2onnx.export(model, strategy="native", target=target, validate=False)
    nodes = [n for n in walk_nodes(proto.graph) if n.op_type in ("LSTM", "GRU", "RNN")]
    direction = [a.s for n in nodes for a in n.attribute if a.name == "direction"]
    # without return_sequences the op runs in reverse; with it (the reverse direction's
    # outputs are in time order, Keras's in processing order), and on the portable target
    # (tract ignores the direction), on the reversed input
    assert direction == ([b"reverse"] if not return_sequences and target == "onnxruntime" else [])
    X = rng.normal(size=(3, 6, 4)).astype(np.float32)
    for runtime in runtimes.available() if target == "portable" else ["onnxruntime"]:
        report = rnn2onnx.validate(model, proto, inputs=X, runtime=runtime, raise_on_failure=False)
        assert report.passed, (runtime, report.format_table())


def test_combine_mul_has_no_native_form():
    assert forms(make("SimpleRNN-mul"), strategy="auto") == ["loop"]
    with pytest.raises(ExportError, match="combine='mul'"):
        rnn2onnx.export(make("SimpleRNN-mul"), strategy="native", validate=False)


@pytest.mark.parametrize("runtime", [r for r in ("openvino", "tract") if r in runtimes.available()])
@pytest.mark.parametrize("rule,go_backwards,return_sequences", [
    ("carry", False, False), ("carry", True, True), ("skip_batch", False, True), ("skip_sample", True, True)])
@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN-mul"])
def test_portable_files_agree_on_every_runtime(cell, rule, go_backwards, return_sequences, runtime):
    """float32 Scan files (tract has no Loop; OpenVINO computes float64 in float32)."""
    model = make(cell, mask_rule=rule, go_backwards=go_backwards, return_sequences=return_sequences)
    check(model, runtime=runtime, target="portable")


def _fixture_cases():
    from tests.reference.test_recurrent_rules import _fixture_cases as cases

    return list(cases())


@pytest.mark.parametrize("release,name", _fixture_cases())
def test_exports_reproduce_the_keras_release(release, name):
    """The hand-built models of tests/reference (each release's rules and cells) exported with
    strategy auto: onnxruntime's outputs against the Keras release's own predictions."""
    from tests.reference.test_recurrent_rules import hand_built_fixture, keras_predictions

    model, dtype, data = hand_built_fixture(release, name)
    run = runtimes.load("onnxruntime", rnn2onnx.export(model, validate=False))
    tol = 1e-9 if dtype == "float64" else 2e-5
    for X, Y in keras_predictions(data):
        (out,) = run(feeds(model, X))
        assert np.max(np.abs(out - Y)) / max(1.0, float(np.max(np.abs(Y)))) <= tol
