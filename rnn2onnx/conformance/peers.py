"""Peer vectors: the LSTM, GRU and RNN cases of the ONNX backend node tests, converted
to Keras layers, run through the reference and through our exports."""
import importlib
import itertools

import numpy as np

from ..validation import compare
from .matrix import Case, DTYPES, STRATEGIES



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

    from ..exporter import DEFAULT_OPSET

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
