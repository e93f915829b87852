"""`rnn2onnx bench`: speed of the exported graphs, as ratios measured side by side in
one process (absolute times drift between runs on shared machines; ratios do not).

(a) every cell in the loop form vs onnxruntime's native GRU op of the same shapes, with
    the nodes of its Scan body as emitted and as onnxruntime runs them (after its fusions;
    at batch 1 a step costs about what its nodes cost);
(b) our native LSTM export vs the ONNX LSTM op built directly with the same weights;
(c) onnxruntime on the exported model vs the reference's model.predict;
(d) the time to export and validate a 3-layer model;
(e) masked models (Embedding(mask_zero=True) -> LSTM/GRU, left-padded; the carry rule's
    forms also with holes, and SimpleRNN) in their masked native form (strategy="native")
    vs the same model unmasked (native op) and vs the Scan (strategy="loop"); * marks
    the forms auto uses; where auto uses another (the GRU op's batch-size dispatch: the
    native form up to a batch size, the Scan above), auto's export too.
(f) the loop form wrapped in ONNX Loop (loop_op="loop") vs Scan, and the portable
    target's Scan (bodies tract accepts) vs the onnxruntime target's, in onnxruntime.
(g) the empty-input guards (rnn2onnx/passes.py): the same export with and without it,
    target="onnxruntime" (guard_empty, an If) on native LSTM and the LSTM loop form (Scan),
    target="portable" (pad_empty, no If) on native LSTM/GRU and their Scans.
(h) the unrolled form (strategy="unrolled", emitters/unrolled.py) vs the Scan of the same
    step, both exported for the same fixed input shape: every cell behind a masked
    Embedding (left padding), and unmasked the cells without a native op. Batch 1 with
    one intra-op thread (latency), batch 32 with the default threads; the median of
    three medians of interleaved rounds. `rnn2onnx bench --unrolled` runs only these.
(i) latency at batch 1: every cell in the loop form (its Scan, as auto exports it where
    there is no native form) vs onnxruntime's native GRU op of the same shapes, both with
    one intra-op thread (the default thread pool swings batch-1 timings by 30% on 2 cores);
    the median of three medians of interleaved rounds. Goal: <= 3 for JZS3 and
    SimpleDeepRNN(2). `rnn2onnx bench --latency` runs only these.
"""
import argparse
import os
import re
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

from . import runtimes
from .exporter import build, export
from .emitters.native import gru_weights, lstm_weights
from .graph import walk_nodes

SHAPES = [(32, 100, 64, 128), (1, 50, 32, 64)]  # batch, time, input, hidden


def _direct_model(op, W, R, B, d, k, opset=21):
    """A graph holding only the ONNX op, time-major input, as a runtime user would build it."""
    attrs = dict(hidden_size=k)
    if op == "GRU":
        attrs.update(linear_before_reset=0, activations=["HardSigmoid", "Sigmoid"],
                     activation_alpha=[0.2], activation_beta=[0.5])
    else:
        attrs.update(activations=["HardSigmoid", "Tanh", "Tanh"], activation_alpha=[0.2], activation_beta=[0.5])
    inits = [helper.make_tensor(n, TensorProto.FLOAT, a.shape, a.astype(np.float32).ravel())
             for n, a in (("W", W), ("R", R), ("B", B))]
    node = helper.make_node(op, ["X", "W", "R", "B"], ["", "Y_h"], **attrs)
    graph = helper.make_graph([node], op, [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "n", d])],
                              [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [1, "n", k])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    return model


def body_nodes(model):
    """Nodes of the (first) Scan body: (as emitted, after onnxruntime's graph optimizations)."""
    import onnxruntime

    def count(m):
        return next(len(attr.g.node) for node in walk_nodes(m.graph) if node.op_type == "Scan"
                    for attr in node.attribute if attr.name == "body")

    with tempfile.TemporaryDirectory() as tmp:
        options = onnxruntime.SessionOptions()
        options.optimized_model_filepath = os.path.join(tmp, "optimized.onnx")
        options.log_severity_level = 3  # it warns that the file is specific to this machine
        onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return count(model), count(onnx.load(options.optimized_model_filepath))


def median_ratio(fa, fb, repeats, warmup=3):
    """Median of per-round time(fa)/time(fb), the two interleaved; and the medians."""
    for _ in range(warmup):
        fa(), fb()
    ta, tb = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fa()
        t1 = time.perf_counter()
        fb()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    ratios = np.array(ta) / np.array(tb)
    return float(np.median(ratios)), float(np.median(ta)), float(np.median(tb))


def _session(model, **options):
    """onnxruntime on the model's export (built once, not validated: the suite checks the
    numbers; a benchmark times them)."""
    return runtimes.load("onnxruntime", build(model, **options)[0])


def _model(cls, d, k, seed=0, **kw):
    from reference import Sequential

    model = Sequential(seed=seed)
    model.add(cls(k, input_shape=(None, d), **kw))
    return model


def _embedded_model(cls, d, k, mask_zero=True, seed=0, **kw):
    """Embedding(50, d, mask_zero) -> cls(k): the masked models of parts (e) and (f)."""
    from reference import Embedding, Sequential

    model = Sequential(seed=seed)
    model.add(Embedding(50, d, mask_zero=mask_zero))
    model.add(cls(k, **kw))
    return model


LOOP_CELLS = [("SimpleRNN", {}), ("SimpleDeepRNN", {"depth": 2}), ("SimpleDeepRNN", {"depth": 3}), ("GRU", {}),
              ("LSTM", {}), ("JZS1", {}), ("JZS2", {}), ("JZS3", {})]


def _cell_label(cell, kw):
    return cell + (f"({kw['depth']})" if kw else "")


def run(shapes=SHAPES, repeats=30, print_fn=print, masked_shapes=None, unrolled_shapes=None, latency_shapes=None):
    import reference
    from reference import GRU, JZS3, LSTM

    rows = []
    for n, T, d, k in shapes:
        rng = np.random.default_rng(0)
        X = rng.normal(size=(n, T, d)).astype(np.float32)
        Xt = np.ascontiguousarray(X.transpose(1, 0, 2))
        gru = _model(GRU, d, k)
        W, R, B, _ = gru_weights(gru.layers[0])
        native_gru = runtimes.load("onnxruntime", _direct_model("GRU", W, R, B, d, k))
        baseline = lambda: native_gru({"X": Xt})  # noqa: E731
        reps = repeats if n > 1 else repeats * 3
        for cell, kw in LOOP_CELLS:
            model = _model(getattr(reference, cell), d, k, **kw)
            exported = build(model, strategy="loop")[0]
            session = runtimes.load("onnxruntime", exported)
            ratio, ta, tb = median_ratio(lambda: session({"input": X}), baseline, reps)
            label = _cell_label(cell, kw)
            emitted, fused = body_nodes(exported)
            rows.append(("a", f"{label} loop ({emitted}/{fused} nodes) vs native GRU", (n, T, d, k), ta, tb, ratio))
        lstm = _model(LSTM, d, k)
        W, R, B, _ = lstm_weights(lstm.layers[0])
        direct = runtimes.load("onnxruntime", _direct_model("LSTM", W, R, B, d, k))
        ours = _session(lstm, strategy="native")
        ratio, ta, tb = median_ratio(lambda: ours({"input": X}), lambda: direct({"X": Xt}), reps)
        rows.append(("b", "LSTM native export vs direct LSTM op", (n, T, d, k), ta, tb, ratio))
        for cls in (LSTM, GRU, JZS3):
            model = _model(cls, d, k)
            session = _session(model)
            ratio, ta, tb = median_ratio(lambda: session({"input": X}), lambda: model.predict(X), max(5, reps // 5))
            rows.append(("c", f"{cls.__name__} onnxruntime (auto) vs model.predict", (n, T, d, k), ta, tb, ratio))
        rows += _wrapper_rows((n, T, d, k), X, reps)
        rows += _guard_rows((n, T, d, k), X, reps, lstm)
    rows.append(_export_time())
    rows += masked_rows(repeats, masked_shapes or MASKED_SHAPES)
    rows += unrolled_rows(repeats, unrolled_shapes or UNROLLED_SHAPES)
    rows += latency_rows(repeats, latency_shapes)
    print_rows(rows, print_fn)
    return rows


# (i): (batch, time, input, hidden), one intra-op thread on both sides
LATENCY_SHAPES = [(1, 50, 32, 64)]


def latency_rows(repeats, shapes=None, rounds=3):
    """(i) rows: each cell's loop form / the native GRU op, one intra-op thread each
    (`shapes`: default LATENCY_SHAPES)."""
    import reference

    rows = []
    for n, T, d, k in shapes or LATENCY_SHAPES:
        X = np.random.default_rng(0).normal(size=(n, T, d)).astype(np.float32)
        Xt = np.ascontiguousarray(X.transpose(1, 0, 2))
        W, R, B, _ = gru_weights(_model(reference.GRU, d, k).layers[0])
        native_gru = runtimes.load("onnxruntime", _direct_model("GRU", W, R, B, d, k), threads=1)
        for cell, kw in LOOP_CELLS:
            exported = build(_model(getattr(reference, cell), d, k, **kw), strategy="loop")[0]
            session = runtimes.load("onnxruntime", exported, threads=1)
            results = [median_ratio(lambda: session({"input": X}), lambda: native_gru({"X": Xt}), repeats * 3)
                       for _ in range(rounds)]
            ratio, ta, tb = (float(np.median([r[i] for r in results])) for i in range(3))
            rows.append(("i", f"{_cell_label(cell, kw)} loop vs native GRU (1 thread)", (n, T, d, k), ta, tb, ratio))
    return rows


def print_rows(rows, print_fn=print):
    header = f"{'':2} {'comparison':74} {'batch,time,in,hidden':22} {'ours ms':>9} {'base ms':>9} {'ratio':>7}"
    print_fn(header)
    print_fn("-" * len(header))
    for part, what, shape, ta, tb, ratio in rows:
        print_fn(f"{part:2} {what:74} {str(shape):22} {ta * 1e3:9.3f} {tb * 1e3:9.3f} {ratio:7.2f}")
    print_fn("(a) nodes: the Scan body's nodes as emitted / as onnxruntime runs them after its fusions")
    print_fn("ratio = ours / baseline, median over interleaved rounds; (a) goal <= 1.0 at batch 32, "
             "<= 3 at batch 1; (b) goal 1.0; (c) is the speed-up of deploying (baseline/ours = 1/ratio); "
             "(d) baseline is the 2 s goal; (e) goals: masked/unmasked <= 1.3 at batch 1 for "
             "return_sequences=False, <= 1.8 for LSTM return_sequences=True, <= 1.2 at batch 32 for LSTM; "
             "masked/Scan <= 1 wherever auto picks a native form (marked *); "
             "(f) the cost of Loop over Scan and of the portable target's bodies; (g) the guard's cost (goal: ~1.0); "
             "(h) unrolled / Scan: auto would unroll only where this is clearly below 1 (it is not: "
             "emitters/unrolled.py); (i) goal <= 3 for JZS3 and SimpleDeepRNN(2)")


# (h): (batch, time, input, hidden) and the intra-op threads (1: latency)
UNROLLED_SHAPES = [(1, 20, 32, 64, 1), (1, 50, 32, 64, 1), (32, 20, 64, 128, None), (32, 50, 64, 128, None)]
UNROLLED_CELLS = [("SimpleRNN", {}), ("SimpleDeepRNN", {"depth": 2}), ("GRU", {}), ("LSTM", {}), ("JZS1", {}),
                  ("JZS2", {}), ("JZS3", {})]
UNROLLED_UNMASKED = ("SimpleDeepRNN", "JZS3")  # no native op: auto's loop form unmasked too


def unrolled_rows(repeats, shapes=UNROLLED_SHAPES, rounds=3):
    """(h) rows: unrolled / Scan, each exported for the shape it runs at."""
    import reference

    rows = []
    for n, T, d, k, threads in shapes:
        reps = repeats if n > 1 else repeats * 3
        ids = masked_inputs(n, T)
        X = np.random.default_rng(0).normal(size=(n, T, d)).astype(np.float32)
        for cell, kw in UNROLLED_CELLS:
            cls = getattr(reference, cell)
            cases = [("masked", _embedded_model(cls, d, k, **kw), ids)]
            if cell in UNROLLED_UNMASKED:
                cases.append(("", _model(cls, d, k, **kw), X))
            for what, model, feed in cases:
                unrolled, scan = (runtimes.load("onnxruntime", build(model, strategy=s, fixed_shape=(n, T))[0],
                                                threads=threads) for s in ("unrolled", "loop"))
                results = [median_ratio(lambda: unrolled({"input": feed}), lambda: scan({"input": feed}), reps)
                           for _ in range(rounds)]
                ratio, ta, tb = (float(np.median([r[i] for r in results])) for i in range(3))
                label = cell + (f"({kw['depth']})" if kw else "") + (f" {what}" if what else "")
                rows.append(("h", f"{label} unrolled vs Scan ({'1 thread' if threads else 'default threads'})",
                             (n, T, d, k), ta, tb, ratio))
    return rows


# (e): the setups: Embedding(50, d, mask_zero=True) -> cell(k); batch 1: every row
# 40% left padding; batch 32: each row left-padded by 0..40% of T (drawn). The carry rule
# (Keras 0.3.2 on) also with holes (20% of the steps masked at random), which it computes
# differently from the reset rule
MASKED_SHAPES = [(1, 50, 32, 64), (32, 100, 64, 128)]
MASKED_CELLS = [("LSTM", {}), ("GRU", {}), ("GRU", {"activation": "tanh"}),  # GRU's sigmoid candidate: no reset form
                ("LSTM", {"mask_rule": "carry"}), ("GRU", {"mask_rule": "carry"}),
                ("LSTM", {"mask_rule": "carry", "holes": True}), ("GRU", {"mask_rule": "carry", "holes": True}),
                ("LSTM", {"mask_rule": "carry", "go_backwards": True, "holes": True}),
                ("SimpleRNN", {"mask_rule": "carry", "activation": "tanh", "holes": True}),
                # Keras 2.3.1's defaults (sigmoid gates), and tf.keras's GRU (reset_after)
                ("LSTM", {"mask_rule": "carry", "activation": "tanh", "inner_activation": "sigmoid"}),
                ("GRU", {"mask_rule": "carry", "activation": "tanh", "inner_activation": "sigmoid",
                         "reset_after": True})]


def masked_inputs(n, T, seed=0, holes=False):
    rng = np.random.default_rng(seed)
    X = rng.integers(1, 50, size=(n, T))
    if holes:
        return np.where(rng.random((n, T)) < 0.2, 0, X)
    for i in range(n):
        X[i, :int(0.4 * T) if n == 1 else int(rng.integers(0, int(0.4 * T) + 1))] = 0
    return X


def _label(cell, kw):
    """LSTM, GRU(tanh), LSTM(carry, backwards, holes)."""
    words = [kw["activation"]] if "activation" in kw else []
    words += [kw["inner_activation"]] if "inner_activation" in kw else []
    words += ["reset_after"] if kw.get("reset_after") else []
    words += [kw["mask_rule"]] if "mask_rule" in kw else []
    words += [key.replace("go_", "") for key in ("go_backwards", "holes") if kw.get(key)]
    return cell + (f"({', '.join(words)})" if words else "")


def masked_rows(repeats, shapes=MASKED_SHAPES, rounds=3):
    """(e) rows: the masked native export (strategy="native") / the unmasked native export,
    and / the Scan; where auto's form is another (the GRU op's batch-size dispatch), auto's
    export likewise. Each the median of `rounds` interleaved medians; each export built once.
    Batch 1 is latency: one intra-op thread (PERFORMANCE-NOTES: the default pool swings
    batch-1 timings by 30%)."""
    import reference

    rows = []
    for n, T, d, k in shapes:
        reps = repeats if n > 1 else repeats * 3
        for cell, options in MASKED_CELLS:
            kw = {key: v for key, v in options.items() if key != "holes"}
            X = masked_inputs(n, T, holes=options.get("holes", False))
            for rs in (False, True):
                masked, unmasked = (_embedded_model(getattr(reference, cell), d, k, mask_zero=mask_zero,
                                                    return_sequences=rs, **kw) for mask_zero in (True, False))
                unmasked.set_weights(masked.get_weights())
                built = {key: build(m, strategy=strategy)
                         for key, m, strategy in (("native", masked, "native"), ("auto", masked, "auto"),
                                                  ("unmasked", unmasked, "auto"), ("scan", masked, "loop"))}
                threads = 1 if n == 1 else None
                call = {key: (lambda r=runtimes.load("onnxruntime", proto, threads=threads): r({"input": X}))
                        for key, (proto, _) in built.items()}
                form, auto = (list(built[key][1].values())[-1][0] for key in ("native", "auto"))  # the cell's
                name = f"{_label(cell, options)} rs={'T' if rs else 'F'}"
                measured = [("native", f"{form}{'*' if auto == form else ''}")]
                if auto not in (form, "loop"):
                    measured.append(("auto", f"auto: {auto}"))
                for key, label in measured:
                    for base in ("unmasked", "scan"):
                        results = [median_ratio(call[key], call[base], reps) for _ in range(rounds)]
                        ratio, ta, tb = (float(np.median([r[i] for r in results])) for i in range(3))
                        rows.append(("e", f"{name} [{label}] vs {base}", (n, T, d, k), ta, tb, ratio))
    return rows


def _wrapper_rows(shape, X, reps):
    """(f) rows: Loop vs Scan, portable vs onnxruntime target (loop form, unmasked and
    masked: a mask adds the per-step output that the portable body takes the last from)."""
    from reference import GRU, LSTM, SimpleDeepRNN

    n, T, d, k = shape
    ids = np.random.default_rng(1).integers(1, 50, size=(n, T))
    ids[:, :T // 3] = 0  # left padding
    rows = []
    for cls, kw in [(GRU, {}), (LSTM, {}), (SimpleDeepRNN, {"depth": 2})]:
        model = _model(cls, d, k, **kw)
        scan = _session(model, strategy="loop")
        loop = _session(model, strategy="loop", loop_op="loop")
        ratio, ta, tb = median_ratio(lambda: loop({"input": X}), lambda: scan({"input": X}), reps)
        rows.append(("f", f"{cls.__name__} Loop vs Scan", shape, ta, tb, ratio))
    for cls in (GRU, LSTM):
        for what, model, feed in (("", _model(cls, d, k), X), (" masked", _embedded_model(cls, d, k), ids)):
            ours = _session(model, strategy="loop", target="portable")
            base = _session(model, strategy="loop")
            ratio, ta, tb = median_ratio(lambda: ours({"input": feed}), lambda: base({"input": feed}), reps)
            rows.append(("f", f"{cls.__name__}{what} portable vs ort-target Scan", shape, ta, tb, ratio))
    return rows


def _guard_rows(shape, X, reps, lstm):
    """(g) rows: the same export with its target's empty-input guard vs none. target=
    "onnxruntime" (passes.guard_empty, an If) on `lstm` native and as a Scan; target=
    "portable" (passes.pad_empty, no If) on the native ops (ONNX's default activations,
    which portable files keep native) and the Scans."""
    from reference import GRU, LSTM

    n, T, d, k = shape
    rows = []
    for label, model, strategy, target in (
            ("LSTM native: empty-input guard", lstm, "native", "onnxruntime"),
            ("LSTM loop: empty-input guard", lstm, "loop", "onnxruntime"),
            ("portable LSTM native: padding guard", _model(LSTM, d, k, inner_activation="sigmoid"),
             "native", "portable"),
            ("portable GRU native: padding guard", _model(GRU, d, k, inner_activation="sigmoid", activation="tanh"),
             "native", "portable"),
            ("portable LSTM Scan: padding guard", _model(LSTM, d, k), "loop", "portable"),
            ("portable GRU Scan: padding guard", _model(GRU, d, k), "loop", "portable")):
        guarded, plain = (_session(model, strategy=strategy, target=target, **kw) for kw in ({}, {"passes": ()}))
        ratio, ta, tb = median_ratio(lambda: guarded({"input": X}), lambda: plain({"input": X}), reps)
        rows.append(("g", f"{label} vs none", shape, ta, tb, ratio))
    return rows


def _export_time():
    """(d) wall time of export + validation of a 3-layer model (goal: under 2 s)."""
    from reference import GRU, LSTM, Dense, Embedding, Sequential

    model = Sequential(seed=0)
    model.add(Embedding(1000, 64, mask_zero=True))
    model.add(LSTM(128, return_sequences=True))
    model.add(GRU(128))
    model.add(Dense(10, activation="softmax"))
    start = time.perf_counter()
    export(model)
    elapsed = time.perf_counter() - start
    return ("d", "export+validate, Embedding/LSTM/GRU/Dense", "-", elapsed, 2.0, elapsed / 2.0)


JSON_FORMAT = "rnn2onnx-bench/1"


def part_descriptions(doc=__doc__):
    """{part letter: its paragraph of this module's docstring}: what each part compares."""
    parts = {}
    for block in re.split(r"\n(?=\([a-z]\) )", doc):
        match = re.match(r"\(([a-z])\) (.*)", block, re.S)
        if match:
            parts[match.group(1)] = " ".join(match.group(2).split())
    return parts


def write_json(path, rows, repeats):
    """The rows of run() as JSON (for `rnn2onnx conformance --bench PATH`), atomically:
    {"format", "generated", "repeats", "versions", "parts": {letter: description},
    "rows": [{"part", "comparison", "shape" ([batch, time, in, hidden] or null),
    "ours_ms", "base_ms", "ratio"}]}."""
    import datetime
    import json
    import platform

    import onnxruntime
    from reference.files import atomic_write

    from . import __version__

    data = {"format": JSON_FORMAT,
            "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "repeats": repeats,
            "versions": {"rnn2onnx": __version__, "onnxruntime": onnxruntime.__version__, "numpy": np.__version__,
                         "python": platform.python_version(), "machine": platform.machine(),
                         "cpus": os.cpu_count()},
            "parts": part_descriptions(),
            "rows": [{"part": part, "comparison": what, "shape": list(shape) if isinstance(shape, tuple) else None,
                      "ours_ms": ta * 1e3, "base_ms": tb * 1e3, "ratio": ratio}
                     for part, what, shape, ta, tb, ratio in rows]}

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.write("\n")

    atomic_write(path, write)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rnn2onnx bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30, help="interleaved rounds per comparison")
    parser.add_argument("--quick", action="store_true", help="few rounds, for a smoke run")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write the rows as JSON (atomically), for `rnn2onnx conformance --bench PATH`")
    parser.add_argument("--unrolled", action="store_true", help="only (h): the unrolled form vs the Scan")
    parser.add_argument("--latency", action="store_true",
                        help="only (i): the loop forms vs the native GRU at batch 1, one thread")
    args = parser.parse_args(argv)
    if args.json:
        from reference.files import OutputPathError, check_output_path

        try:  # before the minutes of measuring, not after
            check_output_path(args.json)
        except OutputPathError as exc:
            parser.error(str(exc))
    repeats = 3 if args.quick else args.repeats
    if args.unrolled or args.latency:
        rows = (unrolled_rows(repeats) if args.unrolled else []) + (latency_rows(repeats) if args.latency else [])
        print_rows(rows)
    else:
        rows = run(repeats=repeats)
    if args.json:
        write_json(args.json, rows, repeats)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
