"""guard_empty (rnn2onnx/passes.py): exported files answer an empty batch and zero
timesteps instead of killing the process. Every run happens in a child process, so a
regression is a failed test, never a dead test run."""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import rnn2onnx
from rnn2onnx import runtimes
from rnn2onnx.exporter import build as export_build
from rnn2onnx.graph import walk_nodes
from rnn2onnx.passes import fuse_gemm, guard_empty, weights_into_loops

from .models import CELLS, MASK_SOURCES, build

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RUNNER = r"""
import json, sys
import numpy as np
from rnn2onnx import runtimes
runtime, options, cases = json.load(open(sys.argv[1]))
for case in cases:
    run = runtimes.load(runtime, case["path"], **options)
    feeds = {name: np.zeros(shape, dtype) if case.get("seed") is None
             else np.random.default_rng(case["seed"]).integers(0, 9, shape).astype(dtype)
             for name, (shape, dtype) in case["feeds"].items()}
    try:
        outs = run(feeds)
    except Exception as exc:  # a catchable error: recorded, judged by the test
        outs = [np.array(str(exc)[:200])]
    np.save(case["out"], outs[0])
    print(case["out"], flush=True)
"""


def run_isolated(tmp_path, cases, runtime="onnxruntime", **options):
    """Run each case ({path, feeds, out}) on `runtime` in one child process; {out: output
    0}. A crash fails the test and names the case instead of killing the test run."""
    spec = tmp_path / f"cases-{runtime}-{len(os.listdir(tmp_path))}.json"
    for i, case in enumerate(cases):
        case.setdefault("out", f"{case['path']}.{runtime}.{options.get('dims', '')}{i}.npy")
    spec.write_text(json.dumps([runtime, options, cases]))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(spec)], capture_output=True, text=True, timeout=900,
                          env=env)
    done = proc.stdout.split()
    if proc.returncode != 0:
        crashed = cases[len(done)]["path"] if len(done) < len(cases) else "?"
        pytest.fail(f"{runtime} died (status {proc.returncode}) on {os.path.basename(crashed)}: "
                    f"{proc.stderr[-500:]}")
    return {out: np.load(out) for out in done}


def _feeds(model, B, T):
    if type(model.layers[0]).__name__ == "Embedding":
        return {"input": [[B, T], "int64"]}
    return {"input": [[B, T, 4], str(model.dtype)]}


def _expected(model, B, T):
    """What zero work gives, from the head's own weights: no rows for an empty batch;
    for zero timesteps an empty sequence, or the head applied to the zero state."""
    head = model.layers[-1]
    width = head.params["b"].shape[0]
    if model.layers[-2].return_sequences:
        return np.zeros((B, T, width))
    return np.tile(np.tanh(head.params["b"].astype(np.float64)), (B, 1))


# Keras's default activations take the loop form in portable files; these have ONNX's
# default ones, so that the portable target's native forms are covered too
NATIVE_DEFAULTS = {"LSTM": {"inner_activation": "sigmoid"}, "GRU": {"inner_activation": "sigmoid", "activation": "tanh"},
                   "SimpleRNN": {"activation": "tanh"}, "JZS2": {}, "JZS1": {}}
# (target, strategy, dtype, loop_op, extra kwargs?): every form of both targets
FORMS = [("onnxruntime", "auto", "float32", "scan", False),    # native ops; LSTM's masked native forms
         ("onnxruntime", "native", "float32", "scan", False),  # every masked native form
         ("onnxruntime", "loop", "float32", "scan", False),
         ("onnxruntime", "loop", "float64", "scan", False),
         ("onnxruntime", "loop", "float32", "loop", False),
         ("portable", "auto", "float32", "scan", False),
         ("portable", "native", "float32", "scan", True),      # native ops with ONNX's default activations
         ("portable", "loop", "float64", "scan", False),
         ("portable", "loop", "float32", "loop", False)]
EMPTY = ((0, 5), (3, 0), (0, 0))


def _models(forms, cells=None):
    """(label, model, export options) over cells x mask sources x return_sequences x forms;
    strategy="native" only where the layer has a native form."""
    for cell in sorted(cells or CELLS):
        for mask_source in MASK_SOURCES:
            for return_sequences in (False, True):
                for target, strategy, dtype, loop_op, defaults in forms:
                    if strategy == "native" and (cell not in NATIVE_DEFAULTS
                                                 or (target == "portable" and mask_source != "none")):
                        continue  # no native form (portable: masked layers keep the loop form)
                    extra = NATIVE_DEFAULTS[cell] if defaults else {}
                    model = build(cell, mask_source, return_sequences, dtype, **extra)
                    options = dict(target=target, strategy=strategy, loop_op=loop_op)
                    label = f"{cell}-{mask_source}-{return_sequences}-{target}-{strategy}-{dtype}-{loop_op}"
                    yield label, model, options


def _empty_cases(tmp_path, forms, cells=None):
    """(cases for run_isolated, {out: expected}, {outs that may be a catchable error})."""
    cases, expected, may_raise = [], {}, set()
    for label, model, options in _models(forms, cells):
        proto = rnn2onnx.export(model, validate=False, **options)
        masked_native = any(form.startswith("native-") for _, form, _ in
                            rnn2onnx.plan(model, options["strategy"], options["target"]))
        path = str(tmp_path / f"{label}.onnx")
        onnx.save_model(proto, path)
        for B, T in EMPTY:
            out = f"{path}.{B}x{T}.npy"
            cases.append({"path": path, "feeds": _feeds(model, B, T), "out": out})
            expected[out] = _expected(model, B, T)
            if masked_native:
                may_raise.add(out)
    return cases, expected, may_raise


def _check_empty(outputs, expected, may_raise, runtime):
    assert set(outputs) == set(expected)
    for out, want in expected.items():
        got, name = outputs[out], f"{runtime}: {os.path.basename(out)}"
        if got.dtype.kind == "U":
            # a catchable error (the reference refuses an empty batch and zero timesteps
            # too) only from the masked native forms, whose index arithmetic before the
            # guarded op raises on empty input; every other form answers exactly
            assert out in may_raise, (name, str(got))
            continue
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, err_msg=name)


def test_every_form_answers_an_empty_batch_and_zero_timesteps(tmp_path):
    """Both targets, every form (native, masked native, Scan, Loop), on onnxruntime."""
    cases, expected, may_raise = _empty_cases(tmp_path, FORMS)
    _check_empty(run_isolated(tmp_path, cases), expected, may_raise, "onnxruntime")


PORTABLE = [f for f in FORMS if f[0] == "portable"]
RUNTIMES = [("openvino", {}), ("tract", {"dims": "concrete"}), ("tract", {"dims": "symbolic"})]


def _runtime_params(slow_all):
    for runtime, options in RUNTIMES:
        marks = [pytest.mark.skipif(not runtimes.get(runtime).available(), reason=f"{runtime} is not installed")]
        yield pytest.param(runtime, options, marks=marks + ([pytest.mark.slow] if slow_all else []),
                           id=f"{runtime}-{options.get('dims', '')}".rstrip("-"))


@pytest.mark.parametrize("runtime, options", _runtime_params(slow_all=True))
def test_portable_files_answer_empty_input_on_every_runtime_every_cell(tmp_path, runtime, options):
    """pad_empty: the portable files' guard, on the runtimes they are made for (tract has
    no Loop: the Loop form is left out there), every cell (under `slow`)."""
    forms = [f for f in PORTABLE if not (runtime == "tract" and f[3] == "loop")]
    cases, expected, _ = _empty_cases(tmp_path, forms)
    _check_empty(run_isolated(tmp_path, cases, runtime, **options), expected, set(), runtime)


@pytest.mark.parametrize("runtime, options", [("onnxruntime", {})] + list(_runtime_params(slow_all=False)))
def test_the_portable_guard_changes_no_number(tmp_path, runtime, options):
    """For non-empty input a guarded portable file gives the unguarded file's numbers on
    each runtime, bit for bit (its zero blocks are empty, its cuts whole, its Where takes
    the computed branch)."""
    cases, pairs = [], []
    for label, model, opts in _models(PORTABLE, cells=("LSTM", "JZS1")):
        if runtime == "tract" and opts["loop_op"] == "loop":
            continue
        files = []
        for guarded in (True, False):
            proto = export_build(model, **opts, **({} if guarded else {"passes": ()}))[0]
            path = str(tmp_path / f"{label}-{guarded}.onnx")
            onnx.save_model(proto, path)
            for seed, (B, T) in enumerate(((1, 6), (4, 1), (3, 7))):
                cases.append({"path": path, "feeds": _feeds(model, B, T), "seed": seed, "out": f"{path}.{seed}.npy"})
            files.append(path)
        pairs += [(f"{files[0]}.{seed}.npy", f"{files[1]}.{seed}.npy") for seed in range(3)]
    outputs = run_isolated(tmp_path, cases, runtime, **options)
    for guarded, plain in pairs:
        got, want = outputs[guarded], outputs[plain]
        assert got.shape == want.shape and got.dtype == want.dtype and got.size > 0
        np.testing.assert_array_equal(got, want, err_msg=os.path.basename(guarded))


def _native_lstm(initial_h):
    """A bare ONNX LSTM (hidden 2, input 3), with or without an initial_h input."""
    W = helper.make_tensor("W", TensorProto.FLOAT, [1, 8, 3], np.full(24, 0.1, np.float32))
    R = helper.make_tensor("R", TensorProto.FLOAT, [1, 8, 2], np.full(16, 0.1, np.float32))
    inputs = ["X", "W", "R"] + (["", "", "h0"] if initial_h else [])
    graph = helper.make_graph(
        [helper.make_node("LSTM", inputs, ["Y", "Y_h"], name="lstm", hidden_size=2)], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "B", 3])]
        + ([helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, "B", 2])] if initial_h else []),
        [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, "B", 2])], initializer=[W, R])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def test_zero_timesteps_return_the_initial_state_of_a_native_op(tmp_path):
    model = guard_empty(_native_lstm(initial_h=True))
    onnx.checker.check_model(model, full_check=True)
    path = str(tmp_path / "lstm.onnx")
    onnx.save_model(model, path)
    h0 = np.arange(4, dtype=np.float32).reshape(1, 2, 2)
    script = (f"import numpy as np, onnxruntime as o; s = o.InferenceSession({path!r}, providers=['CPUExecutionProvider']);"
              f"print(s.run(None, {{'X': np.zeros((0, 2, 3), np.float32), 'h0': np.arange(4, dtype=np.float32).reshape(1, 2, 2)}})[0].ravel().tolist())")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert json.loads(proc.stdout) == h0.ravel().tolist()


def test_the_guard_leaves_nothing_unguarded_and_keeps_other_nodes():
    model = build("GRU", return_sequences=False)
    guarded = rnn2onnx.export(model, validate=False)
    top = [n.op_type for n in guarded.graph.node]
    assert "GRU" not in top and "If" in top
    (guard,) = [n for n in guarded.graph.node if n.op_type == "If"]
    else_branch = helper.get_attribute_value([a for a in guard.attribute if a.name == "else_branch"][0])
    assert [n.op_type for n in else_branch.node][0] == "GRU"


@pytest.mark.parametrize("strategy", ["native", "loop"])
def test_the_portable_guard_takes_the_float_type_when_token_ids_are_the_first_output(strategy):
    """A Graph may pass its token ids out first: pad_empty's zero states still take the
    graph's float type (it read the first output's, int64, and the file failed to build)."""
    import reference as r

    g = r.Graph(dtype="float32")
    g.add_input("a", (None,), dtype="int")
    g.add_node(r.Embedding(7, 3), "ea", input="a")
    g.add_node(r.GRU(3, inner_activation="sigmoid", activation="tanh"), "h", input="ea")
    g.add_output("ids", input="a")
    g.add_output("h", input="h")
    proto = rnn2onnx.export(g, strategy=strategy, target="portable")  # validated against predict
    run = runtimes.load("onnxruntime", proto)
    ids, h = run({"a": np.zeros((2, 0), np.int64)})
    assert ids.shape == (2, 0) and h.shape == (2, 3) and not h.any()  # zero steps: the zero initial state


def test_weights_into_loops_moves_a_weight_only_one_loop_body_reads():
    """A weight read by one Scan body alone moves into it; one read also outside, or by two
    bodies, stays in the main graph; the results are the same."""
    from onnx import numpy_helper

    def body(name, reads):
        nodes = [helper.make_node("Add", ["s", reads[0]], [f"{name}/a"])]
        nodes += [helper.make_node("Add", [nodes[-1].output[0], r], [f"{name}/a{i}"]) for i, r in enumerate(reads[1:])]
        nodes.append(helper.make_node("Add", [nodes[-1].output[0], "x"], ["s_out"]))
        return helper.make_graph(nodes, name, [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2])
                                               for n in ("s", "x")],
                                 [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [2])])

    weights = {n: numpy_helper.from_array(np.full(2, v, np.float32), n)
               for v, n in enumerate(["alone", "shared", "twice"], 1)}
    scans = [helper.make_node("Scan", ["s0", "X"], [out], body=b, num_scan_inputs=1)
             for out, b in (("y1", body("b1", ["alone", "shared", "twice"])), ("y2", body("b2", ["twice"])))]
    graph = helper.make_graph(
        scans + [helper.make_node("Add", ["y1", "shared"], ["z1"]), helper.make_node("Identity", ["y2"], ["z2"])],
        "m", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in (("s0", [2]), ("X", ["T", 2]))],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("z1", "z2")],
        initializer=list(weights.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    feeds = {"s0": np.zeros(2, np.float32), "X": np.arange(6, dtype=np.float32).reshape(3, 2)}
    before = runtimes.load("onnxruntime", model)(feeds)
    weights_into_loops(model)
    onnx.checker.check_model(model, full_check=True)
    assert [t.name for t in model.graph.initializer] == ["shared", "twice"]
    ((b1, b2),) = [[a.g for n in model.graph.node if n.op_type == "Scan" for a in n.attribute if a.name == "body"]]
    assert [t.name for t in b1.initializer] == ["alone"] and not b2.initializer
    for got, expected in zip(runtimes.load("onnxruntime", model)(feeds), before):
        np.testing.assert_array_equal(got, expected)


def _product_then(dtype, build):
    """A model of `build(o, h, U, x)` through OnnxOps, before fuse_gemm; the graph's fusable list."""
    from rnn2onnx.graph import OnnxGraph, OnnxOps, finish_model

    g = OnnxGraph("ops", dtype, 21)
    names = [g.add_input(n, list(s)) for n, s in (("h", (2, 3)), ("U", (3, 4)), ("x", (2, 4)))]
    g.add_output(build(OnnxOps(g, "ops"), *names), [2, 4])
    return finish_model(g, 21, {}), g.fusable


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fuse_gemm_makes_a_product_read_by_an_activation_a_gemm(dtype):
    """The op set marks a product an activation reads; fuse_gemm makes it a Gemm named
    under the op set's prefix, its output unchanged (onnxruntime fuses an activation into
    a Gemm, never into a MatMul). A product read by an Add stays a MatMul."""
    from reference import activations

    rng = np.random.default_rng(0)
    h, U, x = (rng.normal(size=s).astype(dtype) for s in [(2, 3), (3, 4), (2, 4)])
    sigmoid = activations.get("sigmoid")
    model, fusable = _product_then(dtype, lambda o, a, b, c: o.add(c, o.act(sigmoid, o.matmul(a, b))))
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Sigmoid", "Add"]  # the op set only computes
    fuse_gemm(model, fusable)
    assert [(n.op_type, n.name, n.output[0]) for n in model.graph.node][0] == ("Gemm", "ops/Gemm", "ops/MatMul")
    assert fusable == []
    onnx.checker.check_model(model, full_check=True)
    (out,) = runtimes.load("onnxruntime", model)({"h": h, "U": U, "x": x})
    np.testing.assert_allclose(out, x + 1 / (1 + np.exp(-(h @ U))), rtol=1e-15 if dtype == "float64" else 2e-7)
    model, fusable = _product_then(dtype, lambda o, a, b, c: o.act(sigmoid, o.add(c, o.matmul(a, b))))
    fuse_gemm(model, fusable)
    assert [n.op_type for n in model.graph.node] == ["MatMul", "Add", "Sigmoid"]


@pytest.mark.parametrize("passes", [None, ()])
def test_fuse_gemm_runs_in_loop_bodies_whatever_the_late_passes(passes):
    """SimpleDeepRNN's lag product, read by its inner activation in the Scan body, is a
    Gemm; the projection outside, read by no activation, stays a MatMul. passes=() drops
    the empty-input guard only: the fusion is part of the form."""
    import reference

    model = reference.Sequential(seed=0)
    model.add(reference.SimpleDeepRNN(5, depth=2, input_shape=(None, 4)))
    proto, _ = export_build(model, strategy="loop", passes=passes)
    (scan,) = [n for n in walk_nodes(proto.graph) if n.op_type == "Scan"]  # (in the guard's If, or not)
    body = [a.g for a in scan.attribute if a.name == "body"][0]
    ops = [n.op_type for n in body.node]
    assert ops.count("Gemm") == 1 and "MatMul" not in ops
    assert [n.name for n in body.node if n.op_type == "Gemm"] == [f"{model.layers[-1].name}/step/Gemm"]
    outside = [n.op_type for n in walk_nodes(proto.graph)]
    assert "MatMul" in outside and "Gemm" not in outside
    assert ("If" in outside) == (passes is None)
