"""Running cases: export, run on every runtime, compare, judge; with a progress bar."""
import os
import re
import sys
import time
import traceback

import numpy as np

from .. import runtimes, structure
from ..validation import TOLERANCE, compare
from .matrix import layer_label, make_inputs, make_model


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
    # tract: node numbers and names, and the concrete batch, differ per file
    last = re.sub(r'#\d+ "[^"]*" ', "", last)
    last = re.sub(r"Val\(\d+\)", "Val(n)", last)
    last = re.sub(r"node says \d+", "node says n", last)
    last = re.sub(r"\(\d+\): thread '[^']*' \(\d+\)", ":", last)
    return last[:300]


def _judge(runtime, case, result, expected, actual):
    """(status, note) of one comparison; see the module docstring for the statuses."""
    tol = TOLERANCE[case.dtype]
    if result.max_rel_error <= tol:
        return "pass", ""
    lossy_f64 = runtime in runtimes.REGISTRY and not runtimes.get(runtime).computes_float64 and case.dtype == "float64"
    status = "f32-only" if lossy_f64 else "pass"
    note = f"{runtime} computes float64 models in float32" if lossy_f64 else ""
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
    """Worst comparison over (expected, actual) pairs (every output of every batch), then
    its (status, note)."""
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


def _pairs(expected, outputs, post):
    """(expected, actual) of every output of every batch; `expected` holds one list of
    outputs per batch, `outputs` what the runtime returned per batch."""
    return [(e, post(y)) for es, ys in zip(expected, outputs) for e, y in zip(es, ys)]


def run_runtime(runtime, proto, case, feeds, expected, postprocess=None):
    """{status, max_abs_error, max_rel_error, tolerance, message} of one runtime. `feeds`:
    one {input name: array} per batch; `expected`: one list of outputs per batch. The
    runtime's outputs go through `postprocess` (peer vectors) before the comparison."""
    entry = {"status": None, "max_abs_error": None, "max_rel_error": None,
             "tolerance": TOLERANCE[case.dtype], "message": ""}
    post = postprocess or (lambda y: y)
    stage = "load"
    try:
        run = runtimes.load(runtime, proto, threads=1)
        stage = "run"
        outputs = [run(feed) for feed in feeds]
    except Exception as exc:  # noqa: BLE001 - recorded (a crash of tract's worker process too)
        entry.update(status="rejected", message=f"{stage}: {short_message(exc)}", full_message=str(exc))
        workaround = runtimes.get(runtime)().workaround(str(exc))
        if workaround is not None:
            entry["workaround"] = _retry_with(runtime, workaround, proto, case, feeds, expected, post)
        return entry
    entry.update(_compare_all(case, _pairs(expected, outputs, post), runtime))
    return entry


def _retry_with(runtime, workaround, proto, case, feeds, expected, post):
    """A note on whether the runtime accepts the file with the load options it suggested."""
    options, label = workaround
    try:
        run = runtimes.load(runtime, proto, **options)
        outputs = [run(feed) for feed in feeds]
    except Exception as exc:  # noqa: BLE001
        return f"also rejected with {label}: {short_message(exc)}"
    result = _compare_all(case, _pairs(expected, outputs, post), runtime)
    return f"runs with {label}: max rel err {result['max_rel_error']:.1e}, {result['status']}"


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
        if runtimes.get(name).known_limit(case.target, case.dtype, case.loop_op, case.opset):
            continue  # recorded in the report, not a failure
        if status == "rejected":
            reasons.append(f"{name} rejected a target={case.target!r} file")
        else:
            reasons.append(f"{name} disagrees")
    return not reasons, reasons


def run_case(case, runtime_names, keep_dir=None, keep_all=False):
    """Export, run and compare one case; returns its record (a JSON-able dict)."""
    import onnx

    from ..exporter import build

    started = time.perf_counter()
    record = {
        "id": case.id, "group": case.group,
        "layers": case.labels or [layer_label(k, kw) for k, kw in case.layers],
        "mask": case.mask, "return_sequences": case.return_sequences, "dtype": case.dtype,
        "strategy": case.strategy, "target": case.target, "loop_op": case.loop_op, "opset": case.opset,
        "forms": {}, "reference": None, "runtimes": {}, "export_error": None, "model_file": None,
    }
    proto = None
    try:
        if case.peer is not None:
            model = case.peer["make"](case.dtype)
            inputs, expected = case.peer["feeds"](case.dtype), case.peer["expected"](case.dtype)
            pairs = [(e, case.peer["postprocess"](model.predict(X))) for X, e in zip(inputs, expected)]
            record["reference"] = _compare_all(case, pairs, "reference")
            expected = [[e] for e in expected]
        else:
            model = make_model(case)
            inputs = make_inputs(case, model)
            expected = [structure.predict_outputs(model, X) for X in inputs]
        feeds = [structure.feeds(model, X) for X in inputs]
        options = dict(strategy=case.strategy, target=case.target, opset=case.opset, loop_op=case.loop_op,
                       fixed_shape=case.fixed_shape)
        proto, forms = build(model, **options)  # one build gives the file and each layer's form
        for name, (form, reason) in forms.items():
            record["forms"][name] = {"form": form, "reason": reason}
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # noqa: BLE001 - recorded as a failure of the case
        record["export_error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    for name in runtime_names:
        if proto is None:
            record["runtimes"][name] = {"status": "not run", "message": "export failed"}
            continue
        post = case.peer["postprocess"] if case.peer is not None else None
        runtime_started = time.perf_counter()
        entry = run_runtime(name, proto, case, feeds, expected, post)
        entry["seconds"] = round(time.perf_counter() - runtime_started, 4)  # load and run
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
