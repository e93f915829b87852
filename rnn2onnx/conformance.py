"""rnn2onnx conformance: one table of where exported models agree with the reference.

    rnn2onnx conformance [--quick] [--out DIR] [--runtimes onnxruntime,openvino]
    python -m rnn2onnx.conformance ...

Builds a matrix of models (every recurrent layer; masks none/left/right/holes/masking;
return_sequences; float32/float64; strategies auto and loop; targets onnxruntime and
portable; the smallest, middle and largest supported opsets; activation variants and a
few stacked models), exports each with ``validate=False``, runs the file on onnxruntime
and, where installed, OpenVINO (f32 precision hint), compares with ``model.predict``
and writes ``conformance.md`` and ``conformance.json`` (atomically) to ``--out``.

It also runs the *peer vectors*: the LSTM/GRU/RNN cases of the ONNX backend node tests
(``onnx.backend.test.case.node.lstm/gru/rnn``), converted to Keras layers, through the
reference and through our exported graphs, against the ONNX tests' expected outputs.

Verdicts (per runtime):
  pass       error within the tolerance (float32 1e-5, float64 1e-10, relative to the
             output's scale: max |reference|, at least 1 in float32);
  FAIL       a numeric disagreement, an export error, or a file onnxruntime refused;
  rejected   OpenVINO refused the file (recorded, not a failure, for target
             "onnxruntime" and for float64; a failure for target "portable");
  f32-only   OpenVINO ran a float64 file but computed it in float32 (its CPU plugin
             has no f64 kernels): within the float32 tolerance, recorded, not a failure.
The command exits 1 when any case fails.
"""
import argparse
import datetime
import importlib
import itertools
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
from reference.files import atomic_write

from . import __version__, runtimes
from .validate import TOLERANCE, compare

RECURRENT = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")
MASKS = ("none", "left", "right", "holes", "masking")
STRATEGIES = ("auto", "loop")
TARGETS = ("onnxruntime", "portable")
DTYPES = ("float32", "float64")
# (activation, inner_activation) variants beyond each layer's Keras defaults
ACTIVATION_VARIANTS = (("tanh", "sigmoid"), ("relu", "sigmoid"), ("softplus", "tanh"),
                       ("linear", "hard_sigmoid"), ("softmax", "softmax"), ("sigmoid", "softmax"))
SHORT = {"SimpleRNN": "rnn", "SimpleDeepRNN": "deeprnn", "GRU": "gru", "LSTM": "lstm",
         "JZS1": "jzs1", "JZS2": "jzs2", "JZS3": "jzs3"}
VOCAB, EMBED, UNITS, BATCH, TIME = 11, 4, 5, 8, 7


def opset_choices():
    """The smallest, middle and largest supported opsets."""
    from .export import supported_opsets

    opsets = list(supported_opsets())
    return sorted({opsets[0], opsets[len(opsets) // 2], opsets[-1]})


# ---------------------------------------------------------------------------------------
# cases


@dataclass
class Case:
    """One model configuration and how to export it."""

    layers: list                 # [(class name, kwargs)] after the input layer
    mask: str                    # none | left | right | holes | masking
    dtype: str
    strategy: str
    target: str
    opset: int
    group: str = "matrix"        # matrix | activations | stack | peer
    id: str = ""
    peer: dict = field(default=None, repr=False)  # peer vectors: make(dtype), feeds, expected, postprocess
    labels: list = None          # layer labels for the report (default: from `layers`)

    @property
    def return_sequences(self):
        for kind, kwargs in reversed(self.layers):
            if kind in RECURRENT:
                return bool(kwargs.get("return_sequences", False))
        return False

    @property
    def input_kind(self):
        return {"none": "float", "masking": "masking"}.get(self.mask, "embedding")


def _layer_label(kind, kwargs):
    from reference import RECURRENT_LAYERS

    if kind not in RECURRENT:
        act = kwargs.get("activation")
        return f"{kind}({act})" if act else kind
    cls = RECURRENT_LAYERS[kind]
    act = kwargs.get("activation") or cls.default_activation
    if kind == "SimpleRNN":
        return f"{kind}({act})"
    inner = kwargs.get("inner_activation") or cls.default_inner_activation
    extra = f", depth={kwargs['depth']}" if "depth" in kwargs else ""
    return f"{kind}({act}, {inner}{extra})"


def _case_id(case, variant=""):
    names = "+".join(SHORT.get(k, k.lower()) for k, _ in case.layers if k in RECURRENT)
    parts = [names + (f"[{variant}]" if variant else ""), case.mask,
             "seq" if case.return_sequences else "last", "f32" if case.dtype == "float32" else "f64",
             case.strategy, "ort" if case.target == "onnxruntime" else "portable", f"op{case.opset}"]
    return "-".join(parts)


def _variant_kwargs(kind, variant):
    act, inner = variant
    if kind == "SimpleRNN":
        return {"activation": act}
    return {"activation": act, "inner_activation": inner}


STACKS = (
    # (name, mask, layers)
    ("stack1", "left", [("LSTM", {"return_sequences": True}), ("GRU", {"return_sequences": True}),
                        ("TimeDistributedDense", {"output_dim": 3, "activation": "tanh"}),
                        ("JZS3", {"return_sequences": False}), ("Dense", {"output_dim": 2, "activation": "softmax"})]),
    ("stack2", "masking", [("JZS1", {"return_sequences": True, "output_dim": 4}), ("Dropout", {"p": 0.25}),
                           ("SimpleDeepRNN", {"return_sequences": True, "depth": 2}),
                           ("Activation", {"activation": "tanh"}), ("JZS2", {"return_sequences": False})]),
    ("stack3", "none", [("SimpleRNN", {"return_sequences": True, "activation": "tanh"}),
                        ("LSTM", {"return_sequences": True, "activation": "tanh", "inner_activation": "sigmoid"}),
                        ("GRU", {"return_sequences": True, "activation": "tanh", "inner_activation": "sigmoid"})]),
    ("stack4", "holes", [("GRU", {"return_sequences": True, "activation": "tanh", "inner_activation": "sigmoid"}),
                         ("LSTM", {"return_sequences": False})]),
)


def build_matrix(quick=False, opsets=None):
    """The list of Cases. Full: every layer x mask x return_sequences x dtype x strategy x
    target x opset (Keras default activations), activation variants at the middle opset,
    and stacked models. Quick: every layer with every mask kind once, the other
    dimensions rotated so each of their values appears, two activation variants per
    layer (every variant appears), one case per stack."""
    opsets = list(opsets or opset_choices())
    middle = opsets[len(opsets) // 2]
    cases = []
    combos = list(itertools.product((False, True), DTYPES, STRATEGIES, TARGETS, opsets))

    def add(layers, mask, dtype, strategy, target, opset, group, variant=""):
        case = Case(layers, mask, dtype, strategy, target, opset, group)
        case.id = _case_id(case, variant)
        cases.append(case)

    # 1. the main matrix: Keras default activations
    for li, kind in enumerate(RECURRENT):
        for mi, mask in enumerate(MASKS):
            chosen = combos if not quick else [combos[((li * len(MASKS) + mi) * 7) % len(combos)]]
            for rs, dtype, strategy, target, opset in chosen:
                add([(kind, {"return_sequences": rs})], mask, dtype, strategy, target, opset, "matrix")

    if quick:  # Keras's default hard_sigmoid inside native LSTM/GRU: what OpenVINO makes of it
        for kind in ("LSTM", "GRU"):
            for target in TARGETS:
                add([(kind, {"return_sequences": False})], "none", "float32", "auto", target, middle, "matrix")

    # 2. activation variants (middle opset; masks none and holes)
    for li, kind in enumerate(RECURRENT):
        for vi, variant in enumerate(ACTIVATION_VARIANTS):
            if kind == "SimpleRNN" and variant[0] in [v[0] for v in ACTIVATION_VARIANTS[:vi]]:
                continue  # SimpleRNN has only `activation`: skip repeated ones
            name = "/".join(variant[:1] if kind == "SimpleRNN" else variant)
            full = itertools.product(("none", "holes"), (False, True), DTYPES, STRATEGIES, TARGETS)
            if quick:  # two variants per layer, rotating so every variant appears
                c = li * len(ACTIVATION_VARIANTS) + vi
                if vi not in (li % len(ACTIVATION_VARIANTS), (li + 3) % len(ACTIVATION_VARIANTS)):
                    continue
                full = [(("none", "holes")[c % 2], bool(c // 2 % 2), DTYPES[c // 4 % 2], STRATEGIES[c // 3 % 2],
                         TARGETS[c // 5 % 2])]
            for mask, rs, dtype, strategy, target in full:
                kwargs = dict(_variant_kwargs(kind, variant), return_sequences=rs)
                add([(kind, kwargs)], mask, dtype, strategy, target, middle, "activations", name)

    # 3. stacked models
    for si, (name, mask, layers) in enumerate(STACKS):
        chosen = itertools.product(DTYPES, STRATEGIES, TARGETS, opsets)
        if quick:
            chosen = [(DTYPES[si % 2], STRATEGIES[si // 2 % 2], TARGETS[(si + 1) % 2], opsets[si % len(opsets)])]
        for dtype, strategy, target, opset in chosen:
            add([(k, dict(kw)) for k, kw in layers], mask, dtype, strategy, target, opset, "stack", name)
    return cases


# ---------------------------------------------------------------------------------------
# models and inputs


def make_model(case, seed=0):
    """The reference Sequential of a case, with random weights (biases too)."""
    import reference

    model = reference.Sequential(dtype=case.dtype, seed=seed)
    if case.input_kind == "embedding":
        model.add(reference.Embedding(VOCAB, EMBED, mask_zero=True))
    elif case.input_kind == "masking":
        model.add(reference.Masking(0.0, input_shape=(None, EMBED)))
    first = case.input_kind == "float"
    for kind, kwargs in case.layers:
        kwargs = dict(kwargs)
        if kind in RECURRENT or kind in ("Dense", "TimeDistributedDense"):
            kwargs.setdefault("output_dim", UNITS)
            output_dim = kwargs.pop("output_dim")
            if first:
                kwargs["input_dim"] = EMBED
            model.add(getattr(reference, kind)(output_dim, **kwargs))
        else:
            model.add(getattr(reference, kind)(**kwargs))
        first = False
    rng = np.random.default_rng(seed + 1)
    weights = []
    for layer in model.layers:
        for name, w in zip(layer.weight_names, layer.get_weights()):
            if name.startswith("b"):  # biases start at zero (b_f at one): make them matter
                w = w + rng.normal(0.0, 0.5, size=w.shape)
            weights.append(w)
    model.set_weights(weights)
    return model


def make_inputs(case, seed=0):
    """[(T=7 batch), (T=1 batch)] for the case's mask kind. Left/right: every row
    padded by 0..T-1 steps; holes: random masked steps anywhere plus an all-masked row;
    masking: left, right, holes and all-masked rows mixed."""
    rng = np.random.default_rng(seed)
    batches = []
    for T in (TIME, 1):
        n = BATCH if T > 1 else 3
        keep = np.ones((n, T), dtype=bool)
        for i in range(n):
            pad = i % T
            kind = case.mask if case.mask != "masking" else ("left", "right", "holes", "all")[i % 4]
            if kind == "left":
                keep[i, :pad] = False
            elif kind == "right":
                keep[i, T - pad:] = False
            elif kind == "holes":
                keep[i] = rng.random(T) < 0.6
                if i == n - 1:
                    keep[i] = False  # one all-masked row
            elif kind == "all":
                keep[i] = False
        if case.input_kind == "embedding":
            ids = rng.integers(1, VOCAB, size=(n, T))
            batches.append(np.where(keep, ids, 0).astype(np.int64))
        else:
            X = rng.normal(0.0, 1.0, size=(n, T, EMBED))
            if case.input_kind == "masking":
                X[~keep] = 0.0
            batches.append(X.astype(case.dtype))
    return batches


# ---------------------------------------------------------------------------------------
# running


def short_message(exc):
    """One line out of a runtime's (often multi-line) exception text, with the node
    names and numbers that differ per file left out so equal causes group together."""
    text = str(exc).strip() or type(exc).__name__
    passname = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and "]" in line:  # OpenVINO: the transformation pass that threw
            passname = line[:line.index("]") + 1]
            break
    if "CALLBACK HAS THROWN:" in text:
        text = text.rsplit("CALLBACK HAS THROWN:", 1)[1]
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith("Exception from ")]
    last = lines[-1] if lines else text.strip().splitlines()[-1]
    if passname and passname not in last:
        last = f"{passname} {last}"
    return last[:300]


def _openvino_without_snippets(proto, feeds):
    """Outputs of OpenVINO with its snippets (fused-subgraph JIT) disabled, or raises."""
    import openvino

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        with open(path, "wb") as f:
            f.write(proto.SerializeToString())
        core = openvino.Core()
        compiled = core.compile_model(core.read_model(path), "CPU",
                                      {"INFERENCE_PRECISION_HINT": "f32", "SNIPPETS_MODE": "DISABLE"})
        return [compiled({"input": X})[compiled.outputs[0]] for X in feeds]


def _judge(runtime, case, result, expected, actual):
    """(status, note) of one comparison; see the module docstring for the statuses."""
    tol = TOLERANCE[case.dtype]
    if result.max_rel_error <= tol:
        return "pass", ""
    lossy_f64 = runtime == "openvino" and case.dtype == "float64"
    status = "f32-only" if lossy_f64 else "pass"
    note = "OpenVINO's CPU plugin computes float64 models in float32" if lossy_f64 else ""
    if lossy_f64 and result.max_rel_error <= TOLERANCE["float32"]:
        return status, note
    peer = case.peer
    if peer is not None and (case.dtype == "float32" or lossy_f64):
        # float32 peer rows: the ONNX backend test's own criterion (np.allclose rtol/atol);
        # our relative-to-scale tolerance is out of reach for ill-conditioned outputs
        rtol, atol = peer["rtol"], peer["atol"]
        if np.allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64), rtol=rtol, atol=atol):
            why = (f"within the ONNX test's tolerance (rtol {rtol:g}, atol {atol:g}); ill-conditioned in "
                   f"float32: the test's own float32 output is {peer['f32_error']:.1e} (relative) from its "
                   "float64 value")
            return status, "; ".join(filter(None, [note, why]))
    return "FAIL", note


def _compare_all(case, pairs, runtime):
    """Worst comparison over (expected, actual) pairs, then its (status, note)."""
    worst = None
    for expected, actual in pairs:
        result = compare(expected, actual, "output", case.dtype)
        status, note = _judge(runtime, case, result, expected, actual)
        key = (status == "FAIL", result.max_rel_error if result.max_rel_error == result.max_rel_error else np.inf)
        if worst is None or key > worst[0]:
            worst = (key, result, status, note)
    _, result, status, note = worst
    return {"status": status, "max_abs_error": result.max_abs_error, "max_rel_error": result.max_rel_error,
            "tolerance": result.tolerance, "message": note}


def run_runtime(runtime, proto, case, feeds, expected, postprocess=None):
    """{status, max_abs_error, max_rel_error, tolerance, message} of one runtime; the
    runtime's output goes through `postprocess` (peer vectors) before the comparison."""
    entry = {"status": None, "max_abs_error": None, "max_rel_error": None,
             "tolerance": TOLERANCE[case.dtype], "message": ""}
    post = postprocess or (lambda y: y)
    stage = "load"
    try:
        run = runtimes.load(runtime, proto, threads=1) if runtime == "onnxruntime" else runtimes.load(runtime, proto)
        stage = "run"
        outputs = [run({"input": X})[0] for X in feeds]
    except Exception as exc:  # noqa: BLE001 - recorded
        entry.update(status="rejected", message=f"{stage}: {short_message(exc)}", full_message=str(exc))
        if runtime == "openvino" and ("snippet" in str(exc).lower() or "Layout rank" in str(exc)):
            entry["workaround"] = _retry_without_snippets(proto, case, feeds, expected, post)
        return entry
    entry.update(_compare_all(case, [(e, post(y)) for e, y in zip(expected, outputs)], runtime))
    return entry


def _retry_without_snippets(proto, case, feeds, expected, post):
    """A note on whether OpenVINO accepts the file with SNIPPETS_MODE=DISABLE."""
    try:
        outputs = _openvino_without_snippets(proto, feeds)
    except Exception as exc:  # noqa: BLE001
        return f"also rejected with SNIPPETS_MODE=DISABLE: {short_message(exc)}"
    result = _compare_all(case, [(e, post(y)) for e, y in zip(expected, outputs)], "openvino")
    return (f"runs with SNIPPETS_MODE=DISABLE: max rel err {result['max_rel_error']:.1e}, "
            f"{result['status']}")


def _verdict(case, record):
    """(passed, reasons) of a case from its runtime entries."""
    reasons = []
    if record.get("export_error"):
        reasons.append("export failed")
    ref = record.get("reference")
    if ref and ref["status"] != "pass":
        reasons.append("reference disagrees with the expected output")
    for name, entry in record["runtimes"].items():
        status = entry["status"]
        if status in ("pass", "f32-only", "not run"):
            continue
        if status == "rejected":
            if name == "openvino" and case.target == "onnxruntime":
                continue
            if name == "openvino" and case.dtype == "float64":
                continue
            reasons.append(f"{name} rejected a{' portable' if case.target == 'portable' else 'n'} file")
        else:
            reasons.append(f"{name} disagrees")
    return not reasons, reasons


def run_case(case, runtime_names, keep_dir=None, keep_all=False):
    """Export, run and compare one case; returns its record (a JSON-able dict)."""
    from .export import export, plan

    started = time.perf_counter()
    record = {
        "id": case.id, "group": case.group,
        "layers": case.labels or [_layer_label(k, kw) for k, kw in case.layers],
        "mask": case.mask, "return_sequences": case.return_sequences, "dtype": case.dtype,
        "strategy": case.strategy, "target": case.target, "opset": case.opset,
        "forms": {}, "reference": None, "runtimes": {}, "export_error": None, "model_file": None,
    }
    proto = None
    try:
        if case.peer is not None:
            model = case.peer["make"](case.dtype)
            feeds, expected = case.peer["feeds"](case.dtype), case.peer["expected"](case.dtype)
            pairs = [(e, case.peer["postprocess"](model.predict(X))) for X, e in zip(feeds, expected)]
            record["reference"] = _compare_all(case, pairs, "reference")
        else:
            model = make_model(case)
            feeds = make_inputs(case)
            expected = [model.predict(X) for X in feeds]
        for name, form, reason in plan(model, strategy=case.strategy, target=case.target, opset=case.opset):
            record["forms"][name] = {"form": form, "reason": reason}
        proto = export(model, opset=case.opset, strategy=case.strategy, target=case.target, validate=False)
    except Exception as exc:  # noqa: BLE001 - recorded as a failure of the case
        record["export_error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    for name in runtime_names:
        if proto is None:
            record["runtimes"][name] = {"status": "not run", "message": "export failed"}
            continue
        post = case.peer["postprocess"] if case.peer is not None else None
        entry = run_runtime(name, proto, case, feeds, expected, post)
        record["runtimes"][name] = entry
    record["passed"], record["reasons"] = _verdict(case, record)
    rejected = any(e.get("status") == "rejected" for e in record["runtimes"].values())
    if proto is not None and keep_dir and (keep_all or not record["passed"] or rejected):
        os.makedirs(keep_dir, exist_ok=True)
        path = os.path.join(keep_dir, _safe(case.id) + ".onnx")
        with open(path, "wb") as f:
            f.write(proto.SerializeToString())
        record["model_file"] = path
    record["seconds"] = round(time.perf_counter() - started, 4)
    return record


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)


# ---------------------------------------------------------------------------------------
# peer vectors: the ONNX backend node tests of LSTM, GRU and RNN


def _onnx_node_tests():
    """The ONNX backend test cases of LSTM, GRU and RNN (their generators, run in-process)."""
    node_cases = importlib.import_module("onnx.backend.test.case.node")
    for name in ("lstm", "gru", "rnn"):
        importlib.import_module(f"onnx.backend.test.case.node.{name}")
    tests = getattr(node_cases, "_NodeTestCases", None)
    if tests is None:  # pragma: no cover - a future onnx without the private list
        tests = []
        for op in ("LSTM", "GRU", "RNN"):
            tests += node_cases.collect_testcases(op)
    seen, out = set(), []
    for test in tests:
        node = test.model.graph.node[0] if len(test.model.graph.node) == 1 else None
        if node is None or node.op_type not in ("LSTM", "GRU", "RNN") or test.name in seen:
            continue
        seen.add(test.name)
        out.append(test)
    return out


HELPERS = {"LSTM": ("lstm", "LSTMHelper"), "GRU": ("gru", "GRUHelper"), "RNN": ("rnn", "RNNHelper")}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _attributes(node):
    from onnx import helper

    out = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        out[a.name] = value.decode() if isinstance(value, bytes) else value
    return out


def _peer_skip_reason(op, attrs, params, T):
    """Why an ONNX test cannot be expressed with Keras 0.2.0's layers (None if it can)."""
    if op == "LSTM" and "P" in params and np.any(params["P"] != 0):
        return "peepholes (nonzero P): Keras 0.2.0's LSTM has none"
    for key in ("initial_h", "initial_c"):
        if key in params and np.any(params[key] != 0):
            return f"nonzero {key}: Keras layers start from a zero state"
    if "sequence_lens" in params and np.any(params["sequence_lens"] != T):
        return "sequence_lens shorter than the sequence: not Keras's mask semantics"
    if attrs.get("linear_before_reset", 0):
        return "linear_before_reset=1: the recurrent bias of h sits inside the reset gate (Keras has none)"
    if attrs.get("clip") is not None:
        return "clip: Keras 0.2.0 does not clip cell inputs"
    if attrs.get("input_forget", 0):
        return "input_forget=1 (coupled gates): not in Keras 0.2.0"
    defaults = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}[op]
    acts = attrs.get("activations")
    if acts and [a.decode() if isinstance(a, bytes) else a for a in acts][:len(defaults)] != defaults:
        return f"activations {acts}: only the defaults are mapped"
    return None


def _keras_weights(op, W, R, B):
    """One direction's ONNX W (gates*k, d), R (gates*k, k), B (2*gates*k,) as the Keras
    layer's weight list. Keras has one bias per gate: ONNX's Wb + Rb, which is exact for
    LSTM, RNN, and GRU with linear_before_reset=0 (where ONNX adds Rb_h outside r*(...))."""
    W, R, B = (np.asarray(a, np.float64) for a in (W, R, B))  # sum the biases exactly
    gates, k = GATES[op], R.shape[-1]
    Wg = np.split(W, gates)
    Rg = np.split(R, gates)
    b = np.split(B[:gates * k] + B[gates * k:], gates)
    blocks = {}
    names = {"LSTM": "iofc", "GRU": "zrh", "RNN": "x"}[op]
    for q, w, r, bb in zip(names, Wg, Rg, b):
        blocks[q] = [w.T, r.T, bb]
    order = {"LSTM": "icfo", "GRU": "zrh", "RNN": "x"}[op]  # Keras order: i, c, f, o
    return [array for q in order for array in blocks[q]]


def peer_cases(dtypes=DTYPES, strategies=STRATEGIES, opset=None):
    """(Cases, coverage): one Case per ONNX test x direction x output (Y, Y_h) x dtype x
    strategy; coverage lists every test with what was covered or why it was skipped.
    float32 rows compare with the test's shipped expected output; float64 rows with the
    same test helper (onnx.backend.test.case.node.*Helper) rerun in float64."""
    import reference

    from .export import DEFAULT_OPSET

    opset = opset or DEFAULT_OPSET
    cases, coverage = [], []
    for test in _onnx_node_tests():
        node = test.model.graph.node[0]
        op, attrs = node.op_type, _attributes(node)
        inputs, outputs = test.data_sets[0]
        params = {name: np.asarray(v) for name, v in zip(node.input, inputs) if name}
        layout = attrs.get("layout", 0)
        X = params["X"] if layout else params["X"].transpose(1, 0, 2)  # batch-major
        T = X.shape[1]
        reason = _peer_skip_reason(op, attrs, params, T)
        entry = {"test": test.name, "op": op, "covered": [], "skipped": []}
        coverage.append(entry)
        if reason:
            entry["skipped"].append(f"all: {reason}")
            continue
        direction = attrs.get("direction", "forward")
        dirs = ["forward", "reverse"] if direction == "bidirectional" else [direction]
        k = attrs["hidden_size"]
        B = params.get("B", np.zeros((len(dirs), 2 * GATES[op] * k), np.float32))
        named_out = dict(zip([o for o in node.output if o], outputs))
        helper_mod, helper_name = HELPERS[op]
        for output_name in [o for o in node.output if o]:
            if output_name == "Y_c":
                entry["skipped"].append("Y_c: the cell state is not an output of a Keras layer")
                continue
            for di, dname in enumerate(dirs):
                label = f"{output_name}" + (f"[{dname}]" if direction == "bidirectional" else "")
                entry["covered"].append(label + (" (time-flipped input)" if dname == "reverse" else ""))
                for dtype, strategy in itertools.product(dtypes, strategies):
                    case = Case([(op if op != "RNN" else "SimpleRNN", {"return_sequences": output_name == "Y"})],
                                "none", dtype, strategy, "onnxruntime", opset, "peer")
                    case.id = f"peer:{test.name}.{label}-{'f32' if dtype == 'float32' else 'f64'}-{strategy}"
                    case.peer = _peer_functions(op, k, X, params, B, di, dname, layout, output_name, named_out,
                                                attrs, helper_mod, helper_name, reference,
                                                rtol=getattr(test, "rtol", 1e-3), atol=getattr(test, "atol", 1e-7))
                    case.labels = [f"{'SimpleRNN(tanh)' if op == 'RNN' else op + '(tanh, sigmoid)'}"]
                    cases.append(case)
    return cases, coverage


def _peer_functions(op, k, X, params, B, di, dname, layout, output_name, named_out, attrs, helper_mod,
                    helper_name, reference, rtol=1e-3, atol=1e-7):
    W, R = params["W"][di], params["R"][di]
    weights = _keras_weights(op, W, R, B[di])
    reverse = dname == "reverse"
    seq = output_name == "Y"

    def make(dtype):
        model = reference.Sequential(dtype=dtype)
        kwargs = dict(input_dim=X.shape[2], return_sequences=seq, activation="tanh")
        if op == "RNN":
            layer = reference.SimpleRNN(k, **kwargs)
        else:
            layer = getattr(reference, op)(k, inner_activation="sigmoid", **kwargs)
        model.add(layer)
        model.set_weights(weights)
        return model

    def feeds(dtype):
        x = X[:, ::-1] if reverse else X
        return [np.ascontiguousarray(x, dtype=dtype)]

    def expected(dtype):
        if np.dtype(dtype) == np.float32:
            out = named_out[output_name]
        else:  # the ONNX test's own helper, in float64
            helper_cls = getattr(importlib.import_module(f"onnx.backend.test.case.node.{helper_mod}"), helper_name)
            kwargs = {name: np.asarray(v, np.float64) for name, v in params.items()
                      if name in ("X", "W", "R", "B", "initial_h", "initial_c", "P")}
            for key in ("direction", "layout", "linear_before_reset"):
                if key in attrs:
                    kwargs[key] = attrs[key]
            results = helper_cls(**kwargs).step()
            out = results[0] if output_name == "Y" else results[1]
        out = np.asarray(out)
        if output_name == "Y":  # (T, dirs, n, k) or layout=1 (n, T, dirs, k) -> (n, T, k)
            out = out[:, :, di] if layout else out[:, di].transpose(1, 0, 2)
        else:  # (dirs, n, k) or layout=1 (n, dirs, k) -> (n, k)
            out = out[:, di] if layout else out[di]
        return [np.asarray(out, dtype=dtype)]

    def postprocess(y):
        return y[:, ::-1] if (reverse and seq) else y

    f32_error = compare(expected("float64")[0], expected("float32")[0], "output", "float32").max_rel_error
    return {"make": make, "feeds": feeds, "expected": expected, "postprocess": postprocess,
            "rtol": rtol, "atol": atol, "f32_error": f32_error}


# ---------------------------------------------------------------------------------------
# the whole run


def run(cases, runtime_names=None, progress=True, keep_dir=None, keep_all=False):
    """Records of all cases (see run_case), with a progress bar on stderr."""
    runtime_names = list(runtime_names or runtimes.available())
    bar = Progress(len(cases), enabled=progress)
    records = []
    for case in cases:
        records.append(run_case(case, runtime_names, keep_dir=keep_dir, keep_all=keep_all))
        bar.update(case.id, failed=sum(not r["passed"] for r in records))
    bar.close()
    return records


class Progress:
    """A dependency-free progress bar on stderr: redrawn in place on a terminal, a line
    every 10% otherwise (CI logs)."""

    def __init__(self, total, stream=None, enabled=True, width=30):
        self.total, self.done, self.width = max(total, 1), 0, width
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_decile = -1

    def update(self, label="", failed=0):
        self.done += 1
        if not self.enabled:
            return
        frac = self.done / self.total
        filled = int(self.width * frac)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self.start
        text = (f"conformance [{bar}] {self.done}/{self.total} {elapsed:5.1f}s"
                + (f" {failed} failed" if failed else "") + f"  {label}")
        if self.tty:
            self.stream.write("\r" + text[:118].ljust(118))
            self.stream.flush()
        else:
            decile = int(frac * 10)
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(text + "\n")
                self.stream.flush()

    def close(self):
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------------------------------
# reports


def _versions():
    import onnx
    import onnxruntime

    versions = {"rnn2onnx": __version__, "numpy": np.__version__, "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__, "python": platform.python_version()}
    try:
        import openvino

        versions["openvino"] = openvino.__version__
    except ImportError:
        versions["openvino"] = None
    return versions


def summarize(records, runtime_names):
    summary = {"cases": len(records), "passed": sum(r["passed"] for r in records),
               "failed": sum(not r["passed"] for r in records), "by_group": {}, "worst": {}, "rejections": []}
    for r in records:
        g = summary["by_group"].setdefault(r["group"], {"cases": 0, "failed": 0})
        g["cases"] += 1
        g["failed"] += not r["passed"]
    for kind, name, dtype in itertools.product(("models", "peer"), ["reference"] + list(runtime_names), DTYPES):
        entries = []
        for r in records:
            if (r["group"] == "peer") != (kind == "peer"):
                continue
            e = r["reference"] if name == "reference" else r["runtimes"].get(name)
            if e and r["dtype"] == dtype:
                entries.append((r["id"], e))
        if not entries:
            continue
        numeric = [(i, e) for i, e in entries if e.get("max_rel_error") is not None]
        stats = {"runs": len(entries), "compared": len(numeric),
                 "statuses": {}, "worst_rel": None, "worst_abs": None, "worst_case": None}
        for _, e in entries:
            stats["statuses"][e["status"]] = stats["statuses"].get(e["status"], 0) + 1
        if numeric:
            wid, we = max(numeric, key=lambda ie: ie[1]["max_rel_error"])
            stats.update(worst_rel=we["max_rel_error"], worst_case=wid,
                         worst_abs=max(e["max_abs_error"] for _, e in numeric))
        summary["worst"][f"{kind}/{name}/{dtype}"] = stats
    groups = {}
    for r in records:
        for name, e in r["runtimes"].items():
            if e.get("status") == "rejected":
                key = (name, e["message"])
                g = groups.setdefault(key, {"runtime": name, "message": e["message"], "count": 0, "cases": [],
                                            "targets": set(), "dtypes": set()})
                g["count"] += 1
                g["targets"].add(r["target"])
                g["dtypes"].add(r["dtype"])
                if len(g["cases"]) < 5:
                    g["cases"].append(r["id"])
    for g in groups.values():
        g["targets"], g["dtypes"] = sorted(g["targets"]), sorted(g["dtypes"])
        summary["rejections"].append(g)
    return summary


def _fmt(x):
    return "—" if x is None else f"{x:.1e}"


def _cell(entry):
    if entry is None:
        return "—"
    status = entry.get("status")
    if status in ("rejected", "not run"):
        return status
    text = f"{_fmt(entry['max_abs_error'])} / {_fmt(entry['max_rel_error'])}"
    return text if status == "pass" else f"{text} {status}"


def _forms_cell(record):
    parts = []
    for name, f in record["forms"].items():
        form = f["form"]
        if form == "native":
            op = f["reason"].replace("exact as ONNX ", "")
            parts.append(f"native {op}")
        elif form == "loop":
            parts.append("loop")
    return ", ".join(parts) or "—"


def format_markdown(records, summary, runtime_names, coverage, meta):
    rt = list(runtime_names)
    lines = [
        "# rnn2onnx conformance",
        "",
        f"Generated {meta['generated']} by `{meta['command']}` ({meta['seconds']:.0f} s).",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v) + ".",
        "",
        "Each case exports a model with `rnn2onnx.export(..., validate=False)`, runs the file on every "
        "runtime and compares with `model.predict` (peer rows: with the ONNX backend test's expected "
        "output). Errors are `max |onnx - expected|` and that divided by `max |expected|` (at least 1 "
        "in float32); tolerance float32 1e-5, float64 1e-10 (relative). Inputs: a batch of 8 sequences of length 7 plus one "
        "of 3 sequences of length 1, with the row's mask kind (token ids after "
        "`Embedding(11, 4, mask_zero=True)` for left/right/holes, floats otherwise; holes and masking "
        "include an all-masked row).",
        "",
        "## Summary",
        "",
        f"**{summary['cases']} cases: {summary['passed']} passed, {summary['failed']} failed.** "
        + ", ".join(f"{g}: {v['cases']}" + (f" ({v['failed']} failed)" if v["failed"] else "")
                    for g, v in summary["by_group"].items()),
        "",
        "| rows | runtime | dtype | runs | worst max abs err | worst max rel err | tolerance | worst case | outcomes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, s in summary["worst"].items():
        kind, name, dtype = key.split("/")
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items()))
        lines.append(f"| {'model matrix' if kind == 'models' else 'peer vectors'} | {name} | {dtype} | {s['runs']} | "
                     f"{_fmt(s['worst_abs'])} | {_fmt(s['worst_rel'])} | {TOLERANCE[dtype]:.0e} | "
                     f"{s['worst_case'] or '—'} | {outcomes} |")
    lines.append("")
    if "openvino" not in rt:
        lines += ["OpenVINO is not installed here (`pip install openvino`): its columns were not run.", ""]
    lines += ["`reference` (peer vectors only): our NumPy reference against the ONNX tests' expected outputs; "
              "in the model matrix the reference is the oracle. OpenVINO `f32-only`: the file ran but "
              "OpenVINO's CPU plugin computed the float64 model in float32 (it has no f64 kernels); compared "
              "at the float32 tolerance, not a failure. float32 peer rows pass at our tolerance or, where the "
              "output is ill-conditioned in float32 (the row's note says so and by how much the ONNX test's own "
              "float32 output is off), at the ONNX backend test's own tolerance (rtol 1e-3, atol 1e-7).", ""]
    if summary["rejections"]:
        lines += ["### Rejections", "", "| runtime | message | files | targets | dtypes | e.g. |",
                  "|---|---|---|---|---|---|"]
        for g in summary["rejections"]:
            lines.append(f"| {g['runtime']} | {_md(g['message'])} | {g['count']} | {', '.join(g['targets'])} | "
                         f"{', '.join(g['dtypes'])} | {g['cases'][0]} |")
        lines += ["", "A rejection of a `target=\"onnxruntime\"` file (or a float64 one) by OpenVINO is recorded, "
                  "not counted as a failure; a rejected `target=\"portable\"` float32 file fails its case.", ""]
    failed = [r for r in records if not r["passed"]]
    if failed:
        lines += ["### Failures", ""]
        for r in failed:
            why = "; ".join(r["reasons"])
            extra = f" — {r['export_error']}" if r.get("export_error") else ""
            kept = f" (file: `{r['model_file']}`)" if r["model_file"] else ""
            lines.append(f"- `{r['id']}`: {why}{_md(extra)}{kept}")
        lines.append("")
    if coverage:
        lines += ["## Peer vectors: the ONNX backend node tests", "",
                  "The LSTM, GRU and RNN cases of `onnx.backend.test.case.node` (their generators, run in-process), "
                  "converted to Keras layers: ONNX gate order i,o,f,c -> Keras i,c,f,o (GRU z,r,h as is), W/R "
                  "transposed, ONNX's two biases summed into Keras's one (exact for LSTM, RNN and GRU with "
                  "`linear_before_reset=0`, where ONNX adds `Rb_h` outside the reset product), activations "
                  "tanh/sigmoid (ONNX's defaults), `direction=reverse` as the forward layer on the time-flipped "
                  "input, each direction of `bidirectional` separately, `layout=1` as batch-major input. "
                  "float32 rows use the test's shipped expected output; float64 rows rerun the test's own "
                  "NumPy helper in float64.", "",
                  "| ONNX test | covered outputs | skipped |", "|---|---|---|"]
        for c in coverage:
            skipped = _md("; ".join(c["skipped"])) or "—"
            lines.append(f"| {c['test']} | {', '.join(c['covered']) or '—'} | {skipped} |")
        lines.append("")
    header = ["case", "layers", "mask", "seq", "dtype", "strategy", "target", "opset", "ONNX form",
              "reference abs / rel"] + [f"{n} abs / rel" for n in rt] + ["result", "notes"]
    lines += ["## Cases", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in records:
        notes = []
        for name in rt:
            e = r["runtimes"].get(name, {})
            if e.get("message"):
                notes.append(f"{name}: {e['message']}" + (f" ({e['workaround']})" if e.get("workaround") else ""))
        if r.get("export_error"):
            notes.append(r["export_error"].splitlines()[0])
        row = [f"`{r['id']}`", " + ".join(r["layers"]), r["mask"], "yes" if r["return_sequences"] else "no",
               r["dtype"], r["strategy"], r["target"], str(r["opset"]), _forms_cell(r),
               _cell(r["reference"]) if r["reference"] else "oracle"]
        row += [_cell(r["runtimes"].get(name)) for name in rt]
        row += ["pass" if r["passed"] else "**FAIL**", _md("; ".join(notes))]
        lines.append("| " + " | ".join(row) + " |")
    full = {}
    for r in records:
        for name, e in r["runtimes"].items():
            if e.get("full_message"):
                full.setdefault((name, e["message"]), (r["id"], e["full_message"]))
    if full:
        lines += ["", "## Rejection messages in full", ""]
        for (name, short), (cid, text) in full.items():
            lines += [f"{name}, e.g. `{cid}` ({short}):", "", "```", text.strip(), "```", ""]
    return "\n".join(lines) + "\n"


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_atomic(path, text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(path, write)


def write_reports(out_dir, records, runtime_names, coverage=(), meta=None):
    """Write conformance.md and conformance.json into out_dir; returns (md path, json path, summary)."""
    meta = dict(meta or {})
    meta.setdefault("generated", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    meta.setdefault("command", "rnn2onnx conformance")
    meta.setdefault("seconds", 0.0)
    meta.setdefault("versions", _versions())
    summary = summarize(records, runtime_names)
    md_path, json_path = os.path.join(out_dir, "conformance.md"), os.path.join(out_dir, "conformance.json")
    data = {"meta": meta, "tolerance": TOLERANCE, "runtimes": list(runtime_names), "summary": summary,
            "peer_coverage": list(coverage), "cases": [{k: v for k, v in r.items() if k != "traceback"}
                                                      for r in records]}
    write_atomic(json_path, json.dumps(data, indent=1, default=_json_default) + "\n")
    write_atomic(md_path, format_markdown(records, summary, runtime_names, coverage, meta))
    return md_path, json_path, summary


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, set):
        return sorted(value)
    return str(value)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="rnn2onnx conformance",
        description="Export a matrix of models, run them on onnxruntime (and OpenVINO where installed), "
                    "compare with the reference and write conformance.md/json. Exit 1 if a case fails.")
    parser.add_argument("--quick", action="store_true", help="every layer and mask kind once (under a minute)")
    parser.add_argument("--out", default="conformance-out", help="output folder (default ./conformance-out)")
    parser.add_argument("--runtimes", default=None,
                        help="comma-separated runtimes (default: every installed one of onnxruntime, openvino)")
    parser.add_argument("--filter", default=None, help="only cases whose id contains this text")
    parser.add_argument("--no-peers", action="store_true", help="leave out the ONNX backend-test peer vectors")
    parser.add_argument("--keep-models", action="store_true",
                        help="save every exported file under OUT/models (default: only failing or rejected ones)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    args = parser.parse_args(argv)

    available = runtimes.available()
    if args.runtimes:
        wanted = [r.strip() for r in args.runtimes.split(",") if r.strip()]
        unknown = [r for r in wanted if r not in runtimes.RUNTIMES]
        if unknown:
            parser.error(f"unknown runtime(s) {', '.join(unknown)}; accepted: {', '.join(runtimes.RUNTIMES)}")
        missing = [r for r in wanted if r not in available]
        if missing:
            parser.error(f"runtime(s) not installed: {', '.join(missing)} (pip install {' '.join(missing)})")
        runtime_names = wanted
    else:
        runtime_names = available

    started = time.perf_counter()
    cases = build_matrix(quick=args.quick)
    coverage = []
    if not args.no_peers:
        peers, coverage = peer_cases(strategies=("auto",) if args.quick else STRATEGIES)
        cases += peers
    if args.filter:
        cases = [c for c in cases if args.filter in c.id]
    print(f"rnn2onnx conformance: {len(cases)} cases on {', '.join(runtime_names)}"
          + ("" if "openvino" in runtime_names else " (OpenVINO not installed)"), file=sys.stderr)
    records = run(cases, runtime_names, progress=not args.no_progress,
                  keep_dir=os.path.join(args.out, "models"), keep_all=args.keep_models)
    command = "rnn2onnx conformance" + (" --quick" if args.quick else "")
    meta = {"command": command, "seconds": time.perf_counter() - started, "quick": args.quick}
    md_path, json_path, summary = write_reports(args.out, records, runtime_names, coverage, meta)
    print(f"{summary['cases']} cases: {summary['passed']} passed, {summary['failed']} failed "
          f"({meta['seconds']:.0f} s); wrote {md_path} and {json_path}")
    for key, s in summary["worst"].items():
        print(f"  {key:28s} worst rel err {_fmt(s['worst_rel'])}  abs {_fmt(s['worst_abs'])}  "
              + ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items())))
    for r in records:
        if not r["passed"]:
            print(f"  FAIL {r['id']}: {'; '.join(r['reasons'])}")
    return 0 if summary["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
