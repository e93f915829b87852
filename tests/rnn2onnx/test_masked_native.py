"""Masked layers on native ops (rnn2onnx/emitters/masked_native.py): each form against
model.predict (the reference, itself checked against Keras 0.2.0) for every mask kind,
T = 1, all-masked rows and masked last steps; the conditions under which each form is
chosen; OpenVINO on files whose native ops use activations it computes. The carry rule's
form also against a closed form of that rule built from unmasked reference runs."""
import copy

import numpy as np
import pytest

import rnn2onnx
from reference import GRU, JZS1, JZS2, LSTM, SimpleRNN
from rnn2onnx import ExportError, runtimes
from rnn2onnx.graph import walk_nodes
from rnn2onnx.validation import inputs_with_mask

from .models import PATTERNS, sequential

# name -> (cell, activation, inner_activation, the form with return_sequences=True)
CELLS = {
    "LSTM": (LSTM, "tanh", "hard_sigmoid", "native-reset"),  # Keras's defaults
    "LSTM-sigmoid": (LSTM, "tanh", "sigmoid", "native-reset"),
    "LSTM-relu": (LSTM, "relu", "relu", "native-reset"),
    "LSTM-tanh-gates": (LSTM, "tanh", "tanh", "native-rows"),  # tanh(-1e30) = -1: no reset step
    "GRU": (GRU, "sigmoid", "hard_sigmoid", "native-rows"),  # Keras's defaults: sigmoid candidate
    "GRU-tanh": (GRU, "tanh", "hard_sigmoid", "native-reset"),
    "GRU-hard": (GRU, "hard_sigmoid", "hard_sigmoid", "native-reset"),  # candidate reset through -1e30
    "GRU-linear": (GRU, "linear", "relu", "native-reset"),
    "GRU-sigmoid": (GRU, "tanh", "sigmoid", "native-rows"),  # onnxruntime's GRU sigmoid stops near 1e-6
    "JZS1": (JZS1, "tanh", "sigmoid", "native-rows"),  # Keras's defaults
    "JZS1-hard": (JZS1, "tanh", "hard_sigmoid", "native-reset"),
    "JZS2": (JZS2, "relu", "hard_sigmoid", "native-reset"),
    "SimpleRNN": (SimpleRNN, "tanh", None, "native-rows"),  # strategy="native" only: auto prefers the loop
}
OP = {"LSTM": "LSTM", "GRU": "GRU", "JZS1": "GRU", "JZS2": "GRU", "SimpleRNN": "RNN"}

MASKS = PATTERNS  # each mask kind, zero-length rows, a masked last step, T = 1 and 2


def make(cell, return_sequences, source="embedding", layers=1, dtype="float32", seed=0, **layer_kw):
    cls, act, inner, _ = CELLS[cell]
    kwargs = dict(output_dim=5, activation=act, **({"inner_activation": inner} if inner else {}), **layer_kw)
    specs = [(cls.__name__, dict(kwargs, return_sequences=return_sequences if i == layers - 1 else True))
             for i in range(layers)]
    return sequential(specs, source, dtype, seed)


def check(model, keep, strategy="native", target="onnxruntime", runtime="onnxruntime", seed=0):
    proto = rnn2onnx.export(model, strategy=strategy, target=target, validate=False)
    X = inputs_with_mask(model, keep, np.random.default_rng(seed))
    report = rnn2onnx.validate(model, proto, inputs=X, runtime=runtime, raise_on_failure=False)
    assert report.passed, report.format_table()
    return proto


def forms(model, **kw):
    return [form for _, form, _ in rnn2onnx.plan(model, **kw)[1:] if form]


# That every form computes the reference's numbers for every mask kind, T = 1 and
# all-masked rows is the conformance matrix's masked-native group (quick subset in
# test_conformance.py, the whole group under `slow`); here: which form each layer takes.
@pytest.mark.parametrize("source", ["embedding", "masking"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_masked_native_forms(cell, return_sequences, source):
    model = make(cell, return_sequences, source)
    assert forms(model, strategy="native")[0] == (CELLS[cell][3] if return_sequences else "native-segment")
    proto = rnn2onnx.export(model, strategy="native", validate=False)
    ops = [n.op_type for n in walk_nodes(proto.graph)]
    assert "Scan" not in ops and ops.count(OP[CELLS[cell][0].__name__]) == 1


# unbounded activations: the matrix's weights make them overflow over its sequences, so
# their numbers are checked here, with this file's smaller weights
UNBOUNDED = ("LSTM-relu", "GRU-linear")


@pytest.mark.parametrize("mask", sorted(MASKS))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("cell", UNBOUNDED)
def test_unbounded_masked_native_forms_match_the_reference(cell, return_sequences, mask):
    check(make(cell, return_sequences), MASKS[mask])


def test_the_matrix_checks_every_masked_native_variant():
    """Every (cell, activation, inner activation) above but the unbounded ones has
    masked-native rows in the conformance matrix, with each mask kind and both
    return_sequences."""
    from rnn2onnx.conformance.matrix import MASKS as MATRIX_MASKS
    from rnn2onnx.conformance.matrix import build_matrix

    rows = {(c.layers[0][0], c.layers[0][1]["activation"], c.layers[0][1].get("inner_activation"),
             c.layers[0][1]["return_sequences"], c.mask)
            for c in build_matrix() if c.group == "masked-native" and c.strategy == "native"}
    for cls, act, inner, _ in (v for k, v in CELLS.items() if k not in UNBOUNDED):
        for rs in (False, True):
            for mask in MATRIX_MASKS:
                assert (cls.__name__, act, inner, rs, mask) in rows, (cls.__name__, act, inner, rs, mask)


@pytest.mark.parametrize("mask", ["holes", "right", "all_masked_rows", "length_1"])
@pytest.mark.parametrize("cell", ["LSTM", "GRU", "JZS2"])
def test_stacked_masked_layers(cell, mask):
    """The second layer sees the first's outputs at masked steps (nonzero: Keras computes
    them) and the same mask."""
    model = make(cell, False, layers=3)
    assert forms(model, strategy="native") == [CELLS[cell][3], CELLS[cell][3], "native-segment"]
    check(model, MASKS[mask])
    first = make(cell, True, layers=1)
    first.set_weights(model.get_weights()[:len(first.get_weights())])
    X = inputs_with_mask(first, MASKS[mask], np.random.default_rng(0))
    assert np.all(np.abs(first.predict(X)[~MASKS[mask]]).max(axis=-1) > 0)


@pytest.mark.parametrize("cell,return_sequences", [("LSTM", False), ("LSTM", True), ("GRU", True)])
def test_random_masks_long_sequences(cell, return_sequences):
    """Many segments per row (resets, rows) and long single runs, on every masked form."""
    model = make(cell, return_sequences)
    rng = np.random.default_rng(5)
    for p in (0.1, 0.5, 0.9):
        check(model, rng.random((6, 40)) < p, seed=int(p * 10))


@pytest.mark.parametrize("cell,form", [("GRU", "native-rows"), ("LSTM-tanh-gates", "native-rows")])
def test_auto_keeps_the_loop_where_the_native_form_loses(cell, form):
    model = make(cell, True)
    assert forms(model, strategy="native") == [form]
    (_, chosen, why), = rnn2onnx.plan(model)[1:]
    assert chosen == "loop" and f"its exact native form ({form}, strategy='native') is slower" in why


def test_auto_conditions():
    # LSTM's masked native forms: faster than the Scan at every batch size measured
    assert forms(make("LSTM", False)) == ["native-segment"] and forms(make("LSTM", True)) == ["native-reset"]
    assert forms(make("LSTM", False, dtype="float64")) == ["loop"]
    assert forms(make("LSTM", False), strategy="loop") == ["loop"]
    # target="portable": tract refuses the forms' index arithmetic, so masked layers loop
    assert forms(make("LSTM-sigmoid", False), target="portable") == ["loop"]
    assert forms(make("LSTM-sigmoid", True), target="portable") == ["loop"]
    with pytest.raises(ExportError, match="portable target keeps masked layers in the loop form"):
        rnn2onnx.plan(make("LSTM-sigmoid", False), strategy="native", target="portable")


@pytest.mark.parametrize("cls,act,inner,why", [
    (LSTM, "tanh", "linear", "exactly 0"), (LSTM, "tanh", "tanh", "exactly 0"),
    (GRU, "tanh", "sigmoid", "hard_sigmoid or relu gates"), (GRU, "sigmoid", "hard_sigmoid", "candidate activation"),
    (JZS1, "tanh", "sigmoid", "hard_sigmoid or relu gates")])
def test_rows_form_where_a_reset_step_is_not_exact(cls, act, inner, why):
    from rnn2onnx.emitters.masked_native import why_not_reset

    model = sequential([(cls.__name__, {"activation": act, "inner_activation": inner, "return_sequences": True})],
                       "embedding")
    assert why in why_not_reset(model.layers[1])
    assert forms(model, strategy="native") == ["native-rows"]


def test_reset_step_zeroes_the_state_exactly():
    """A row whose first segment drives the state far from zero, then a reset: the next
    segment's outputs equal those of the same segment run alone, bit for bit."""
    model = make("LSTM-sigmoid", True)
    run = runtimes.load("onnxruntime", rnn2onnx.export(model, strategy="native", validate=False))
    X = np.array([[5, 6, 7, 8, 0, 3, 4, 2]])
    alone = run({"input": X[:, 5:]})[0]
    np.testing.assert_array_equal(run({"input": X})[0][:, 5:], alone)


openvino = pytest.mark.skipif("openvino" not in runtimes.available(), reason="openvino is not installed")


@openvino
@pytest.mark.parametrize("mask", ["left", "holes", "all_masked_rows", "masked_last_step", "length_1"])
@pytest.mark.parametrize("cell,return_sequences", [("LSTM-sigmoid", False), ("LSTM-sigmoid", True),
                                                   ("LSTM-relu", True), ("GRU-sigmoid", False), ("GRU-sigmoid", True)])
def test_masked_forms_run_on_openvino(cell, return_sequences, mask):
    """target="onnxruntime" files: OpenVINO computes Sigmoid/Tanh/Relu native ops (the
    portable target leaves masked layers in the loop form for tract's sake)."""
    model = make(cell, return_sequences, "masking")
    check(model, MASKS[mask], runtime="openvino")




# ---------------------------------------------------------------------------------------
# the batch-size dispatch (emitters/dispatch.py): auto's form for the GRU op's masked
# native forms, the native form up to DISPATCH_MAX_BATCH rows and the Scan above

from rnn2onnx.emitters.recurrent import DISPATCH_MAX_BATCH  # noqa: E402

DISPATCHED = {  # cell, return_sequences -> the native form in the dispatch
    ("GRU", False): "native-segment", ("GRU-tanh", True): "native-reset", ("GRU-linear", True): "native-reset",
    ("JZS1", False): "native-segment", ("JZS1-hard", True): "native-reset", ("JZS2", False): "native-segment",
    ("JZS2", True): "native-reset",
}


def dispatch(form):
    return f"dispatch({form} | loop, batch <= {DISPATCH_MAX_BATCH})"


def sides(keep):
    """The (n, T) pattern at a batch the native branch takes and one the loop branch takes:
    its rows repeated (a row of each pattern kept on both sides)."""
    small = np.resize(keep, (min(len(keep), DISPATCH_MAX_BATCH), keep.shape[1]))
    return {"native": small, "loop": np.resize(keep, (DISPATCH_MAX_BATCH + 1 + len(keep), keep.shape[1]))}


def runs(model, **kw):
    return runtimes.load("onnxruntime", rnn2onnx.export(model, validate=False, **kw))


@pytest.mark.parametrize("cell,return_sequences", sorted(DISPATCHED))
def test_auto_dispatches_the_gru_op_forms_on_the_batch_size(cell, return_sequences):
    model = make(cell, return_sequences)
    assert forms(model) == [dispatch(DISPATCHED[cell, return_sequences])]
    assert forms(model, strategy="native") == [DISPATCHED[cell, return_sequences]]
    assert forms(model, strategy="loop") == ["loop"]
    assert forms(model, target="portable") == ["loop"]
    assert forms(make(cell, return_sequences, dtype="float64")) == ["loop"]


@pytest.mark.parametrize("mask", sorted(MASKS))
@pytest.mark.parametrize("cell,return_sequences", [("GRU", False), ("GRU-tanh", True), ("JZS1", False),
                                                   ("JZS2", True)])
def test_dispatch_matches_the_reference_on_both_sides_of_the_threshold(cell, return_sequences, mask):
    """Against model.predict (validate: float32, 1e-5 relative); and, to show which branch
    ran, bit for bit the strategy="native" file below the threshold, the loop file above."""
    model = make(cell, return_sequences)
    auto, native, loop = runs(model), runs(model, strategy="native"), runs(model, strategy="loop")
    for side, keep in sides(MASKS[mask]).items():
        check(model, keep, strategy="auto")
        X = {"input": inputs_with_mask(model, keep, np.random.default_rng(1))}
        np.testing.assert_array_equal(auto(X)[0], (native if side == "native" else loop)(X)[0])


@pytest.mark.parametrize("mask", ["holes", "right", "all_masked_rows", "length_1"])
def test_stacked_dispatches(mask):
    """Three GRUs, each a dispatch (reset, reset, segment): the second and third see the
    first's nonzero outputs at masked steps."""
    model = make("GRU-tanh", False, layers=3)
    assert forms(model) == [dispatch("native-reset")] * 2 + [dispatch("native-segment")]
    for keep in sides(MASKS[mask]).values():
        check(model, keep, strategy="auto")


@pytest.mark.parametrize("cell,return_sequences", [("GRU", False), ("GRU-tanh", True)])
def test_dispatch_file_structure(cell, return_sequences):
    """One If per layer; no weight stored twice (the reset form's single steps and the loop
    branch read one projection), none in the branches themselves (the Scan body holds the
    weights only it reads: export.build); the Scan (loop branch,
    which also takes empty input) guarded against empty input, the native branch
    (non-empty input only) not; the full onnx check passes."""
    import onnx
    from onnx import numpy_helper

    proto = rnn2onnx.export(make(cell, return_sequences), validate=False)
    onnx.checker.check_model(proto, full_check=True)
    stored = list(proto.graph.initializer) + [t for node in walk_nodes(proto.graph) for attr in node.attribute
                                              if attr.name == "body" for t in attr.g.initializer]
    contents = [(a.dtype.str, a.shape, a.tobytes()) for a in map(numpy_helper.to_array, stored)]
    assert len(set(contents)) == len(contents)
    (dispatch_if,) = [n for n in proto.graph.node if n.op_type == "If" and n.name.endswith("/dispatch")]
    branches = {a.name: a.g for a in dispatch_if.attribute}
    assert not any(g.initializer for g in branches.values())
    native_ops = [n.op_type for n in walk_nodes(branches["then_branch"])]
    loop_ops = [n.op_type for n in walk_nodes(branches["else_branch"])]
    assert "GRU" in native_ops and "If" not in native_ops and "Scan" not in native_ops
    assert "Scan" in loop_ops and "If" in loop_ops and "GRU" not in loop_ops
    assert "Scan" not in [n.op_type for n in branches["else_branch"].node]  # inside the guard


@pytest.mark.parametrize("cell,return_sequences", [("GRU", False), ("GRU-tanh", True)])
def test_dispatch_answers_empty_input_as_the_loop_form(cell, return_sequences):
    model = make(cell, return_sequences)
    auto, loop = runs(model), runs(model, strategy="loop")
    for n, T in ((0, 5), (2, 0), (0, 0), (DISPATCH_MAX_BATCH + 2, 0)):
        X = {"input": np.zeros((n, T), np.int64)}
        got, expected = auto(X)[0], loop(X)[0]
        assert got.shape == expected.shape == ((n, T, 5) if return_sequences else (n, 5))
        np.testing.assert_array_equal(got, expected)
        assert not got.any()  # zero steps: the zero initial state (or nothing)


# ---------------------------------------------------------------------------------------
# the rules of later releases: "native-carry" (Keras 0.3.2 on) and "native-skip" (0.3.0,
# 0.3.1), exact for every activation

CARRY_CELLS = ["LSTM", "LSTM-tanh-gates", "GRU", "GRU-sigmoid", "JZS1", "JZS2", "SimpleRNN"]


def unmasked_sequences(layer, X):
    """The layer's per-step outputs on X with no mask, forwards (a copy of it)."""
    plain = copy.copy(layer)
    plain.return_sequences, plain.go_backwards = True, False
    return plain.forward(X)


def closed_form(layer, X, keep):
    """A later release's rule without running it. The steps that count (carry: the
    unmasked ones; skip rules: those whose input times the mask is not all zero, in the row
    or anywhere in the batch) run unmasked, in processing order (last to first for
    go_backwards), on the input (times the mask for the skip rules). At a processing
    position: the output after the row's latest counted step so far, zeros before the
    first (carry); the output at a counted step, zeros elsewhere (skip rules)."""
    n, T = keep.shape
    out = np.zeros((n, T, layer.output_dim), X.dtype)
    order = np.arange(T)[::-1] if layer.go_backwards else np.arange(T)
    if layer.mask_rule != "carry":
        X = X * keep[:, :, None]
        counts = (X != 0).any(axis=-1)
        counts = counts if layer.mask_rule == "skip_sample" else np.broadcast_to(counts.any(axis=0), (n, T))
    for i in range(n):
        real = keep[i, order] if layer.mask_rule == "carry" else counts[i, order]
        if real.any():
            H = unmasked_sequences(layer, X[i:i + 1, order[real]])[0]
            seen = np.cumsum(real)
            at = seen > 0 if layer.mask_rule == "carry" else real
            out[i, at] = H[seen[at] - 1]
    return out if layer.return_sequences else out[:, -1]


def closed_form_predict(model, X, keep):
    """The whole Sequential: the first layer (Embedding or Masking) as the reference
    computes it, then every recurrent layer by its closed form, each reading the same
    mask (a recurrent layer passes its input mask on unchanged, go_backwards or not)."""
    h = model.layers[0].forward(X)
    for layer in model.layers[1:]:
        h = closed_form(layer, h, keep)
    return h


def assert_close(got, expected, rtol=2e-5):
    scale = max(np.abs(expected).max(initial=0.0), 1e-6)
    assert got.shape == expected.shape and np.abs(got - expected).max() <= rtol * scale, \
        np.abs(got - expected).max() / scale


def carry_check(model, masks, strategy="native", runtime="onnxruntime"):
    """The export against the closed form (float32: 2e-5 of the largest output) and,
    through validate, against model.predict (the reference's carry rule)."""
    proto = rnn2onnx.export(model, strategy=strategy, validate=False)
    run = runtimes.load(runtime, proto)
    for keep in masks:
        X = inputs_with_mask(model, keep, np.random.default_rng(keep.size))
        assert_close(run({"input": X})[0], closed_form_predict(model, X, keep))
        report = rnn2onnx.validate(model, proto, inputs=X, runtime=runtime, raise_on_failure=False)
        assert report.passed, report.format_table()
    return proto


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("source", ["embedding", "masking"])
@pytest.mark.parametrize("cell", CARRY_CELLS)
def test_carry_form_matches_the_closed_form(cell, source, return_sequences, go_backwards):
    """Every mask kind (left and right padding, holes, all-masked rows, T = 1 and 2) in
    one export per case."""
    model = make(cell, return_sequences, source, mask_rule="carry", go_backwards=go_backwards)
    assert forms(model, strategy="native") == ["native-carry"]
    proto = carry_check(model, MASKS.values())
    ops = [n.op_type for n in walk_nodes(proto.graph)]
    assert "Scan" not in ops and ops.count(OP[CELLS[cell][0].__name__]) == 1


def test_the_closed_form_tells_the_rules_and_directions_apart():
    """The closed form is not the reset rule's numbers, and go_backwards changes it (so
    the checks above can fail), for holes and right padding; left padding alone gives
    the reset and carry rules the same last output."""
    for rs in (False, True):
        carry, back, reset = (make("LSTM", rs, **kw) for kw in
                              ({"mask_rule": "carry"}, {"mask_rule": "carry", "go_backwards": True}, {}))
        for name in ("holes", "right"):
            X = inputs_with_mask(carry, MASKS[name], np.random.default_rng(0))
            a, b = closed_form_predict(carry, X, MASKS[name]), closed_form_predict(back, X, MASKS[name])
            assert np.abs(a - b).max() > 1e-2 and np.abs(a - reset.predict(X)).max() > 1e-2
        keep = MASKS["left"]
        X = inputs_with_mask(carry, keep, np.random.default_rng(0))
        last = (lambda y: y[:, -1]) if rs else (lambda y: y)
        np.testing.assert_allclose(last(closed_form_predict(carry, X, keep)), last(reset.predict(X)), rtol=1e-5)


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
def test_stacked_carry_layers(cell):
    """Three layers (sequences into sequences into the last output), the middle one
    go_backwards: each reads its predecessor's outputs (repeated at masked steps, and in
    processing order after go_backwards) under the same mask."""
    model = make(cell, False, layers=3, mask_rule="carry")
    model.layers[2].go_backwards = True
    assert forms(model, strategy="native") == ["native-carry"] * 3
    carry_check(model, [MASKS[k] for k in ("holes", "right", "left", "all_masked_rows", "length_1")])


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("rule", ["skip_sample", "skip_batch"])
@pytest.mark.parametrize("cell", ["LSTM", "GRU", "JZS1", "SimpleRNN"])
def test_skip_form_matches_the_closed_form(cell, rule, go_backwards):
    """Keras 0.3.0/0.3.1 (return_sequences=True: those releases read no mask otherwise);
    an unmasked step whose input is all zero (token 3's embedding row) is skipped too."""
    for source in ("embedding", "masking"):
        model = make(cell, True, source, layers=2, mask_rule=rule, go_backwards=go_backwards)
        if source == "embedding":
            weights = model.get_weights()
            weights[0][3] = 0.0
            model.set_weights(weights)
        assert forms(model, strategy="native") == ["native-skip"] * 2
        proto = rnn2onnx.export(model, strategy="native", validate=False)
        run = runtimes.load("onnxruntime", proto)
        for keep in MASKS.values():
            X = inputs_with_mask(model, keep, np.random.default_rng(keep.size))
            if source == "embedding":
                X[:, ::3] = np.where(keep[:, ::3], 3, 0)
            expected = closed_form_predict(model, X, keep)
            assert_close(run({"input": X})[0], expected)
            assert_close(model.predict(X), expected)


def test_carry_random_masks_long_sequences():
    model = make("GRU", True, mask_rule="carry", go_backwards=True)
    rng = np.random.default_rng(7)
    carry_check(model, [rng.random((6, 40)) < p for p in (0.1, 0.5, 0.9)])


@pytest.mark.parametrize("rule,return_sequences", [("carry", False), ("carry", True), ("skip_sample", True),
                                                   ("skip_batch", True)])
def test_packed_forms_answer_empty_input_with_zero_steps(rule, return_sequences):
    """Batch 0 or 0 timesteps: what the loop form answers (empty outputs, or the zero
    initial state without return_sequences)."""
    model = make("LSTM", return_sequences, mask_rule=rule)
    packed = runs(model, strategy="native")
    for n, T in ((0, 5), (2, 0), (0, 0)):
        got = packed({"input": np.zeros((n, T), np.int64)})[0]
        assert got.shape == ((n, T, 5) if return_sequences else (n, 5)) and not got.any()


def test_carry_selection():
    auto = {"LSTM": "native-carry", "GRU": "dispatch(native-carry | loop, batch <= 4)",
            "SimpleRNN": "dispatch(native-carry | loop, batch <= 1)"}  # measured: recurrent.py
    for cell in ("LSTM", "GRU", "SimpleRNN"):
        for rs in (False, True):
            assert forms(make(cell, rs, mask_rule="carry")) == [auto[cell]]
            assert forms(make(cell, rs, mask_rule="carry"), strategy="native") == ["native-carry"]
            assert forms(make(cell, rs, mask_rule="carry"), strategy="loop") == ["loop"]
            assert forms(make(cell, rs, mask_rule="carry"), target="portable") == ["loop"]
            assert forms(make(cell, rs, mask_rule="carry", dtype="float64")) == ["loop"]
    with pytest.raises(ExportError, match="portable target keeps masked layers in the loop form"):
        rnn2onnx.plan(make("LSTM-sigmoid", True, mask_rule="carry"), strategy="native", target="portable")


@openvino
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("cell,return_sequences,rule", [
    ("LSTM-sigmoid", False, "carry"), ("LSTM-sigmoid", True, "carry"), ("GRU-sigmoid", True, "carry"),
    ("SimpleRNN", True, "carry"), ("GRU-sigmoid", True, "skip_batch"), ("LSTM-sigmoid", True, "skip_sample")])
def test_packed_forms_run_on_openvino(cell, return_sequences, rule, go_backwards):
    model = make(cell, return_sequences, "masking", mask_rule=rule, go_backwards=go_backwards)
    carry_check(model, [MASKS[k] for k in ("left", "holes", "all_masked_rows", "masked_last_step", "length_1")],
                runtime="openvino")


@pytest.mark.parametrize("rule", ["carry", "skip_sample", "skip_batch"])
@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
def test_packed_forms_agree_with_the_scan(cell, rule):
    """The native form and the rule's Scan (the loop form: the cell's step and the rule's
    merge, written once for the reference) on the same inputs, go_backwards both ways."""
    for go_backwards in (False, True):
        model = make(cell, True, layers=2, mask_rule=rule, go_backwards=go_backwards)
        native, loop = runs(model, strategy="native"), runs(model, strategy="loop")
        for keep in MASKS.values():
            X = {"input": inputs_with_mask(model, keep, np.random.default_rng(3))}
            assert_close(native(X)[0], loop(X)[0])


@pytest.mark.parametrize("cell,rule,max_batch", [("GRU", "carry", DISPATCH_MAX_BATCH), ("JZS2", "skip_sample", DISPATCH_MAX_BATCH),
                                                  ("SimpleRNN", "carry", 1)])
def test_auto_dispatches_the_packed_forms_on_the_batch_size(cell, rule, max_batch):
    """auto: an If between the native form (up to max_batch rows) and the Scan; which
    branch ran shows bit for bit (the strategy="native" file below the threshold, the
    loop file above); both against the closed form."""
    for rs in (False, True) if rule == "carry" else (True,):
        model = make(cell, rs, mask_rule=rule, go_backwards=rs)
        form = "native-carry" if rule == "carry" else "native-skip"
        assert forms(model) == [f"dispatch({form} | loop, batch <= {max_batch})"]
        auto, native, loop = runs(model), runs(model, strategy="native"), runs(model, strategy="loop")
        for keep in (MASKS["holes"], MASKS["right"], MASKS["length_1"]):
            for side, rows in (("native", keep[:max_batch]), ("loop", np.resize(keep, (max_batch + 3, keep.shape[1])))):
                X = inputs_with_mask(model, rows, np.random.default_rng(1))
                got = auto({"input": X})[0]
                np.testing.assert_array_equal(got, (native if side == "native" else loop)({"input": X})[0])
                assert_close(got, closed_form_predict(model, X, rows))


def test_packed_forms_reproduce_the_keras_releases():
    """Files written by Keras 0.3.0-0.3.3 (tests/fixtures/keras_releases), float32, exported
    with strategy="native": every one whose masked layers take native-carry or native-skip,
    against that Keras's own predictions (2e-5 of the largest output)."""
    from tests.reference.test_recurrent_rules import _fixture_cases, hand_built_fixture, keras_predictions
    from tests.rnn2onnx.test_recurrent_rules import feeds

    seen = {"native-carry": set(), "native-skip": set()}
    for release, name in _fixture_cases():
        model, dtype, data = hand_built_fixture(release, name)
        if dtype != "float32":
            continue
        try:
            used = {form for _, form, _ in rnn2onnx.plan(model, strategy="native")[1:]}
        except ExportError:  # Keras 0.3.0's SimpleRNN cell: no native op
            continue
        if not used & set(seen):
            continue
        run = runtimes.load("onnxruntime", rnn2onnx.export(model, strategy="native", validate=False))
        for X, Y in keras_predictions(data):
            assert_close(run(feeds(model, X))[0], Y)
        for form in used & set(seen):
            seen[form].add(release)
    assert seen == {"native-carry": {"0.3.2", "0.3.3"}, "native-skip": {"0.3.0", "0.3.1"}}
