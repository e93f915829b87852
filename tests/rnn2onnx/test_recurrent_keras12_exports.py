"""Exports of GRU(reset_after), return_state and Bidirectional, checked against the reference
in onnxruntime (the reference's math is checked against closed forms, finite differences and
Keras-written files in tests/reference/test_recurrent_keras12_*.py)."""
import itertools

import numpy as np
import onnx
import onnxruntime
import pytest

import rnn2onnx
import rnn2onnx.runtimes
from reference import GRU, LSTM, Bidirectional, SimpleRNN
from rnn2onnx.conformance.models import build_model
from rnn2onnx.emitters import EMITTERS
from rnn2onnx.exporter import Context
from rnn2onnx.graph import OnnxGraph, finish_model, walk_nodes

# rows: left padding, right padding, holes, all masked, unmasked (batch 5 > the dispatch's 4)
IDS = np.array([[0, 0, 3, 1, 4, 2, 6], [2, 5, 1, 5, 0, 0, 0], [3, 0, 5, 0, 0, 3, 3], [0, 0, 0, 0, 0, 0, 0],
                [4, 5, 3, 1, 6, 3, 6]], np.int64)
CELLS = {
    "lstm": (LSTM, {}),
    "gru-reset-after": (GRU, {"reset_after": True, "activation": "tanh", "inner_activation": "sigmoid"}),
    "gru-reset-after-hard": (GRU, {"reset_after": True, "activation": "tanh", "inner_activation": "hard_sigmoid"}),
    "simplernn": (SimpleRNN, {"activation": "tanh"}),
}
TOLERANCE = {"float32": 2e-6, "float64": 1e-12}


def rotating(names, *axes):
    """pytest params of every combination of `axes`; the quick run keeps one combination per
    value of the first two axes, the other axes' values rotating among them (each value
    of every axis appears), the rest are marked slow."""
    params = []
    for i, combo in enumerate(itertools.product(*axes)):
        j = axes[1].index(combo[1]) + len(axes[1]) * axes[0].index(combo[0])
        quick = all(combo[a] == axes[a][(j + j // len(axes[a]) * (a - 1)) % len(axes[a])]
                    for a in range(2, len(axes)))
        params.append(pytest.param(*combo, marks=() if quick else pytest.mark.slow))
    return pytest.mark.parametrize(names, params)


def embedded(layer, dtype, mask_zero=True):
    """Token ids < 7 -> Embedding(mask_zero or not) -> `layer`, every weight N(0, 0.6^2)."""
    return build_model([layer], "embedding" if mask_zero else "ids", dtype, weights=0.6, vocab=7)


def check(model, **kw):
    proto = rnn2onnx.export(model, validate=False, **kw)
    for batch in (IDS[:3], IDS):  # the masked native forms' dispatch takes batch <= 4
        report = rnn2onnx.validate(model, proto, inputs=batch, raise_on_failure=False)
        assert report.passed, report.format_table()
    return proto


def ops(proto, op):
    return [n for n in walk_nodes(proto.graph) if n.op_type == op]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("strategy", ["auto", "loop"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("inner", ["sigmoid", "hard_sigmoid"])
def test_gru_reset_after(inner, return_sequences, masked, strategy, dtype):
    layer = GRU(5, activation="tanh", inner_activation=inner, reset_after=True, return_sequences=return_sequences,
                mask_rule="carry")
    proto = check(embedded(layer, dtype, masked), strategy=strategy)
    grus = ops(proto, "GRU")
    if strategy == "auto" and dtype == "float32":  # the native op, with the reset gate after the product
        assert grus and all(a.i == 1 for n in grus for a in n.attribute if a.name == "linear_before_reset")
    else:
        assert not grus


@pytest.mark.parametrize("rule", ["reset", "skip_sample", "carry", "carry_zero"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gru_reset_after_masked_native_forms(return_sequences, rule):
    """Every masked native form of every mask rule (the reset form's reset step: z = r = 0
    leaves act(x·W_h + b_h), which the reset column's -b_h makes exactly 0), go_backwards,
    and the unrolled form."""
    for inner in ("hard_sigmoid", "sigmoid"):
        layer = GRU(5, activation="tanh", inner_activation=inner, reset_after=True, go_backwards=True,
                    return_sequences=return_sequences, mask_rule=rule)
        model = embedded(layer, "float32")
        assert ops(check(model, strategy="native"), "GRU")
        proto = rnn2onnx.export(model, validate=False, strategy="unrolled", fixed_shape=IDS.shape)
        report = rnn2onnx.validate(model, proto, inputs=IDS, raise_on_failure=False)
        assert report.passed, report.format_table()


@pytest.mark.parametrize("masked", [False, True])
def test_gru_reset_after_portable(masked):
    """Every runtime installed (rnn2onnx.runtimes; float32: OpenVINO computes float64 in
    float32): unmasked the native GRU op (linear_before_reset=1), masked the loop form."""
    from rnn2onnx import runtimes

    layer = GRU(5, activation="tanh", inner_activation="sigmoid", reset_after=True, return_sequences=True,
                mask_rule="carry", go_backwards=True)
    model = embedded(layer, "float32", mask_zero=masked)
    proto = rnn2onnx.export(model, validate=False, target="portable")
    assert bool(ops(proto, "GRU")) != masked
    for runtime in runtimes.available():
        report = rnn2onnx.validate(model, proto, inputs=IDS, runtime=runtime, raise_on_failure=False)
        assert report.passed, (runtime, report.format_table())


@rotating("cell, merge_mode, return_sequences, masked_output, dtype", sorted(CELLS), ["concat", "sum", "mul", "ave"],
          [False, True], ["repeat", "zero"], ["float32", "float64"])
def test_bidirectional(cell, merge_mode, return_sequences, masked_output, dtype):
    cls, kwargs = CELLS[cell]
    layer = Bidirectional(cls(5, return_sequences=return_sequences, mask_rule="carry", **kwargs),
                          merge_mode=merge_mode, masked_output=masked_output)
    for masked in (False, True):
        check(embedded(layer if not masked else Bidirectional(
            cls(5, return_sequences=return_sequences, mask_rule="carry", **kwargs), merge_mode=merge_mode,
            masked_output=masked_output), dtype, masked))


def test_bidirectional_loop_form_and_loop_op():
    for loop_op in ("scan", "loop"):
        layer = Bidirectional(LSTM(5, return_sequences=True, mask_rule="carry", go_backwards=True), merge_mode="sum")
        check(embedded(layer, "float64"), strategy="loop", loop_op=loop_op)


def test_bidirectional_forms_are_recorded():
    layer = Bidirectional(LSTM(5, return_sequences=True, mask_rule="carry"))
    rows = rnn2onnx.plan(embedded(layer, "float32", mask_zero=True))
    form = dict((name, form) for name, form, _ in rows)["bidirectional_1"]
    assert form.startswith("forward: ") and "backward: " in form and form.endswith("merge concat")
    rows = rnn2onnx.plan(embedded(layer, "float32", mask_zero=False))
    assert dict((name, form) for name, form, _ in rows)["bidirectional_1"] == \
        "native (direction=bidirectional); merge concat"


# -- several outputs (return_state, merge_mode=None): the emitter's graph run directly ------

def run_emitter(layer, X, mask, strategy="auto", target="onnxruntime", loop_op="scan"):
    """The layer's emitter alone in a graph with inputs x (and mask), one output per layer
    output, the target's late passes applied (the empty-input guard); run in onnxruntime."""
    g = OnnxGraph("t", layer.dtype, 17, target=target)
    ctx = Context(g, strategy, loop_op)
    ctx.key = layer.name
    x = g.add_input("x", ["batch", "time", X.shape[2]])
    m = None if mask is None else g.add_input("mask", ["batch", "time"])
    outputs, masks = EMITTERS[type(layer).__name__](layer, ctx, x, m)
    assert len(outputs) == len(masks) == layer.nb_outputs
    for i, (y, shape) in enumerate(zip(outputs, layer.output_shape((None, X.shape[2])))):
        g.nodes.append(onnx.helper.make_node("Identity", [y], [f"y{i}"], name=f"out{i}"))
        g.add_output(f"y{i}", [None] * (1 + len(shape)))
    proto = finish_model(g, 17, {})
    for rewrite in g.target.late_passes:
        rewrite(proto)
    onnx.checker.check_model(proto)
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {"x": X.astype(layer.dtype)}
    if mask is not None:
        feeds["mask"] = mask.astype(layer.dtype)
    return session.run(None, feeds), ctx.forms[layer.name]


def built(layer, dtype):
    rng = np.random.default_rng(0)
    layer.name = "layer"
    layer.build((None, 4), dtype, rng)
    layer.set_weights([rng.normal(0, 0.6, w.shape) for w in layer.get_weights()])
    return layer


MASK = (IDS != 0).astype(float)
X = np.random.default_rng(5).normal(size=(5, 7, 4))


def compare(layer, mask, **kw):
    """The emitter's outputs against the reference's, at batch 3 and 5 (the dispatch
    between a masked native form and the loop form switches at 4)."""
    for rows in (3, 5):
        x, m = X[:rows], None if mask is None else mask[:rows]
        expected = layer.forward(x.astype(layer.dtype), None if m is None else m.astype(layer.dtype))
        got, form = run_emitter(layer, x, m, **kw)
        expected = expected if isinstance(expected, list) else [expected]
        for a, b in zip(got, expected):
            assert a.shape == b.shape
            assert np.max(np.abs(a - b)) <= TOLERANCE[str(layer.dtype)], form
    return form[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("strategy", ["auto", "loop"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_return_state(cell, return_sequences, go_backwards, masked, strategy, dtype):
    cls, kwargs = CELLS[cell]
    layer = built(cls(5, return_sequences=return_sequences, return_state=True, go_backwards=go_backwards,
                      mask_rule="carry", **kwargs), dtype)
    form = compare(layer, MASK if masked else None, strategy=strategy)
    if strategy == "auto" and dtype == "float32" and cell != "simplernn":
        # the native op's Y_h, Y_c; masked: the carry form's (LSTM) or its dispatch (GRU)
        assert form == ("native" if not masked else "native-carry" if cell == "lstm" else
                        "dispatch(native-carry | loop, batch <= 4)")


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_return_state_masked_native(cell, return_sequences):
    """strategy='native': the carry form's final states (SimpleRNN's RNN op too), and for
    the zero-output rule."""
    cls, kwargs = CELLS[cell]
    for rule in ("carry", "carry_zero"):
        layer = built(cls(5, return_sequences=return_sequences, return_state=True, mask_rule=rule, **kwargs),
                      "float32")
        assert compare(layer, MASK, strategy="native") == "native-carry"


def test_return_state_loop_op_and_unrolled():
    layer = built(LSTM(5, return_sequences=True, return_state=True, mask_rule="carry", go_backwards=True), "float64")
    compare(layer, MASK, strategy="loop", loop_op="loop")


@rotating("cell, merge_mode, return_state, masked_output, dtype", sorted(CELLS), ["concat", None], [False, True],
          ["repeat", "zero"], ["float32", "float64"])
def test_bidirectional_several_outputs(cell, merge_mode, return_state, masked_output, dtype):
    cls, kwargs = CELLS[cell]
    for return_sequences in (False, True):
        layer = built(Bidirectional(cls(5, return_sequences=return_sequences, return_state=return_state,
                                        mask_rule="carry", **kwargs), merge_mode=merge_mode,
                                    masked_output=masked_output), dtype)
        if layer.nb_outputs == 1:
            continue
        for mask in (None, MASK):
            compare(layer, mask)


def directions(proto):
    return [a.s.decode() for op in ("LSTM", "GRU", "RNN") for n in ops(proto, op)
            for a in n.attribute if a.name == "direction"]


@pytest.mark.parametrize("cell", ["lstm", "gru-reset-after", "gru-reset-after-hard"])
def test_bidirectional_native_op(cell):
    """Unmasked float32 halves of one cell on the onnxruntime target: one op with
    direction="bidirectional"; masked, portable, or over a go_backwards layer: each half alone."""
    cls, kwargs = CELLS[cell]
    for return_sequences in (False, True):
        layer = Bidirectional(cls(5, return_sequences=return_sequences, mask_rule="carry", **kwargs), merge_mode="mul")
        assert directions(check(embedded(layer, "float32", mask_zero=False))) == ["bidirectional"]
        layer = Bidirectional(cls(5, return_sequences=return_sequences, mask_rule="carry", **kwargs))
        assert "bidirectional" not in directions(check(embedded(layer, "float32", mask_zero=True)))
        layer = Bidirectional(cls(5, return_sequences=return_sequences, mask_rule="carry", go_backwards=True,
                                  **kwargs), merge_mode="ave")
        assert "bidirectional" not in directions(check(embedded(layer, "float32", mask_zero=False)))
        layer = Bidirectional(cls(5, return_sequences=return_sequences, mask_rule="carry", **kwargs))
        model = embedded(layer, "float32", mask_zero=False)
        proto = rnn2onnx.export(model, validate=False, target="portable")
        assert "bidirectional" not in directions(proto)
        for runtime in rnn2onnx.runtimes.available():
            report = rnn2onnx.validate(model, proto, inputs=IDS, runtime=runtime, raise_on_failure=False)
            assert report.passed, (runtime, report.format_table())


@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_native_op_with_states(return_sequences, merge_mode):
    layer = built(Bidirectional(LSTM(5, return_sequences=return_sequences, return_state=True, mask_rule="carry"),
                                merge_mode=merge_mode), "float32")
    assert compare(layer, None).startswith("native (direction=bidirectional)")


def test_bidirectional_native_op_fixed_shape():
    """The unrolled form (fixed_shape) keeps the bidirectional op, with its (2, batch, k)
    zero initial states given."""
    layer = Bidirectional(GRU(5, return_sequences=True, mask_rule="carry", reset_after=True, activation="tanh",
                              inner_activation="sigmoid"))
    model = embedded(layer, "float32", mask_zero=False)
    proto = rnn2onnx.export(model, validate=False, strategy="unrolled", fixed_shape=(5, 7))
    assert directions(proto) == ["bidirectional"]
    report = rnn2onnx.validate(model, proto, inputs=IDS, raise_on_failure=False)
    assert report.passed, report.format_table()


# -- Keras-written files: the export against the release's own predictions --------------

from tests.reference.test_recurrent_keras12_cells import CASES as KERAS_CASES  # noqa: E402
from tests.reference.test_recurrent_keras12_cells import FIXTURES, TOLERANCE as KERAS_TOLERANCE  # noqa: E402
from tests.reference.test_recurrent_keras12_cells import _relative, build as build_from_files  # noqa: E402


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda p: p[len(FIXTURES) + 1:])
def test_export_reproduces_keras(case):
    """The model built by hand from a Keras file (tests/reference/test_recurrent_keras12_cells.py),
    exported (auto: the native ops where exact), against what that Keras release computed."""
    import os

    model, dtype = build_from_files(case)
    proto = rnn2onnx.export(model, validate=False)
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    data = np.load(case + ".npz")
    for x_key in ("X", "X_step"):
        if x_key not in data or "Y" + x_key[1:] not in data:
            continue
        X = data[x_key]
        (got,) = session.run(None, {name: X.astype(np.int64) if X.dtype.kind in "iu" else X.astype(dtype)})
        assert _relative(got, data["Y" + x_key[1:]]) <= KERAS_TOLERANCE[dtype], os.path.basename(case)


@pytest.mark.parametrize("strategy", ["auto", "native", "loop"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru-reset-after", "simplernn"])
def test_return_state_empty_input(cell, masked, strategy):
    """0 rows or 0 timesteps: zero outputs and zero states of the right shapes."""
    cls, kwargs = CELLS[cell]
    for return_sequences in (False, True):
        layer = built(cls(5, return_sequences=return_sequences, return_state=True, mask_rule="carry", **kwargs),
                      "float32")
        for shape in ((0, 7), (2, 0)):
            got, _ = run_emitter(layer, np.zeros(shape + (4,)), np.zeros(shape) if masked else None,
                                 strategy=strategy)
            expected = [(shape[0],) + tuple(shape[1:] if return_sequences else ()) + (5,)] + \
                [(shape[0], 5)] * (layer.nb_outputs - 1)
            assert [a.shape for a in got] == expected and all(np.all(a == 0) for a in got)
