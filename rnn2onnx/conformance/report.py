"""conformance.md (for people) and conformance.json (for machines), written atomically."""
import datetime
import itertools
import json
import os
import platform

import numpy as np
from reference.files import atomic_write

from .. import __version__, runtimes
from ..validation import TOLERANCE
from .matrix import DTYPES, MASKS


def _versions():
    import onnx

    versions = {"rnn2onnx": __version__, "numpy": np.__version__, "onnx": onnx.__version__,
                "python": platform.python_version()}
    for name, cls in runtimes.REGISTRY.items():
        versions[name] = cls.version() if cls.available() else None
    return versions


def case_form(record):
    """What the case's recurrent layers became: native ops by name (and masked form), Scan
    or Loop, unrolled steps, or a batch-size dispatch between a masked native form and the
    loop form."""
    forms = []
    for f in record["forms"].values():
        form = _form_name(f, record, "native {op}{variant}")
        if form is not None and form not in forms:
            forms.append(form)
    return " + ".join(forms) or "—"


def _form_name(f, record, native):
    """A recurrent layer's form for the report (None for other layers): `native` formats a
    native one from its op (in the reason: "exact as ONNX GRU[ ...]") and its variant
    ("", "-segment", ...); a dispatch is "dispatch(<native> | <loop>, batch <= N)"."""
    loop = "Loop" if record.get("loop_op") == "loop" else "Scan"
    form = f["form"]
    if form.startswith("dispatch("):  # dispatch(native-segment | loop, batch <= 4)
        inner, rule = form[len("dispatch("):-1].split(", ")
        native_form = inner.split(" | ")[0]
        return f"dispatch({_form_name(dict(f, form=native_form), record, native)} | {loop}, {rule})"
    if form.startswith("native"):
        op = f["reason"].replace("exact as ONNX ", "").split()[0]
        return native.format(op=op, variant=form[len("native"):], form=form)
    if form == "unrolled":  # (emitters/unrolled.py)
        return "unrolled"
    return loop if form == "loop" else None


def compatibility(records, runtime_names):
    """{(runtime, dtype, target, form): {mask: Counter of agrees/rejected/wrong}} over the
    model matrix (peer rows left out: their masks are ONNX's, not Keras's); a cell's
    "messages" are its rejections', "not_held" counts its rejected and wrong files that the
    runtime is not held to (Runtime.known_limit)."""
    table = {}
    for r in records:
        if r["group"] == "peer":
            continue
        for name in runtime_names:
            e = r["runtimes"].get(name)
            if not e or e["status"] == "not run":
                continue
            outcome = {"pass": "agrees", "f32-only": "agrees", "rejected": "rejected"}.get(e["status"], "wrong")
            cell = table.setdefault((name, r["dtype"], r["target"], case_form(r)), {}).setdefault(r["mask"], {})
            cell[outcome] = cell.get(outcome, 0) + 1
            if outcome != "agrees" and runtimes.get(name).known_limit(r["target"], r["dtype"], r.get("loop_op")):
                cell["not_held"] = cell.get("not_held", 0) + 1
            if outcome == "rejected":
                cell.setdefault("messages", set()).add(e["message"])
    return table


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


def format_error(x):
    return "—" if x is None else f"{x:.1e}"


def _cell(entry):
    if entry is None:
        return "—"
    status = entry.get("status")
    if status in ("rejected", "not run"):
        return status
    text = f"{format_error(entry['max_abs_error'])} / {format_error(entry['max_rel_error'])}"
    return text if status == "pass" else f"{text} {status}"


def _forms_cell(record):
    parts = [_form_name(f, record, "{form} {op}") for f in record["forms"].values()]
    return ", ".join(p for p in parts if p) or "—"


def rejection_index(summary):
    """{(runtime, message): its row number in the Rejections table (from 1)}."""
    return {(g["runtime"], g["message"]): i + 1 for i, g in enumerate(summary["rejections"])}


def compatibility_cell(counts, runtime, index):
    """The text of a compatibility() cell of `runtime`: "n agree, n wrong, n rejected [k]"
    ([k]: rows of the Rejections table, from rejection_index), or "—"."""
    if not counts:
        return "—"
    parts = [f"{counts[k]} {k}" for k in ("agrees", "wrong") if counts.get(k)]
    if counts.get("rejected"):
        refs = sorted(index.get((runtime, m), 0) for m in counts["messages"])
        parts.append(f"{counts['rejected']} rejected " + "".join(f"[{i}]" for i in refs))
    return ", ".join(parts).replace("agrees", "agree")


def _compatibility_lines(records, summary, runtime_names):
    table = compatibility(records, runtime_names)
    if not table:
        return []
    index = rejection_index(summary)
    lines = ["## Compatibility: runtime x form x mask", "",
             "Model-matrix cases per cell: `n agree` (within the tolerance; f32-only counts as agreeing), "
             "`n rejected [k]` (the runtime refused or crashed; [k] is the row of the Rejections table with its "
             "message), `n wrong` (ran, disagreed). Forms: the ONNX form of the case's recurrent layers.", "",
             "| runtime | dtype | target | form | " + " | ".join(MASKS) + " |",
             "|---|---|---|---|" + "---|" * len(MASKS)]
    for (name, dtype, target, form), masks in sorted(table.items()):
        # a dispatch form's name holds a "|": escaped, or the row gets a column too many
        lines.append(f"| {name} | {dtype} | {target} | {_md(form)} | "
                     + " | ".join(compatibility_cell(masks.get(m), name, index) for m in MASKS) + " |")
    lines += ["", "What each runtime is known to refuse or get wrong (`known_issues` of its class in "
              "`rnn2onnx/runtimes.py`; the portable target avoids each of them):", ""]
    for name in runtime_names:
        for what, why in runtimes.get(name).known_issues:
            lines.append(f"- {name}: {what}: {why}")
    return lines + [""]


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
        "output). Errors are `max |onnx - expected|` and that divided by `max |expected|` (at least "
        "0.024 in float32, 4.4e-6 in float64: two ulps at 1 of the dtype); tolerance float32 1e-5, float64 1e-10 (relative). Inputs: a batch of 8 sequences of length 7 plus one "
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
                     f"{format_error(s['worst_abs'])} | {format_error(s['worst_rel'])} | {TOLERANCE[dtype]:.0e} | "
                     f"{s['worst_case'] or '—'} | {outcomes} |")
    lines.append("")
    for name, cls in runtimes.REGISTRY.items():
        if name not in rt:
            lines += [f"{name} was not run here ({cls.install_hint()}).", ""]
    lines += ["`reference` (peer vectors only): our NumPy reference against the ONNX tests' expected outputs; "
              "in the model matrix the reference is the oracle. OpenVINO `f32-only`: the file ran but "
              "OpenVINO's CPU plugin computed the float64 model in float32 (it has no f64 kernels); compared "
              "at the float32 tolerance, not a failure. float32 peer rows pass at our tolerance or, where the "
              "output is ill-conditioned in float32 (the row's note says so and by how much the ONNX test's own "
              "float32 output is off), at the ONNX backend test's own tolerance (rtol 1e-3, atol 1e-7).", ""]
    if summary["rejections"]:
        lines += ["### Rejections", "", "| # | runtime | message | files | targets | dtypes | e.g. |",
                  "|---|---|---|---|---|---|---|"]
        for i, g in enumerate(summary["rejections"]):
            lines.append(f"| {i + 1} | {g['runtime']} | {_md(g['message'])} | {g['count']} | {', '.join(g['targets'])} | "
                         f"{', '.join(g['dtypes'])} | {g['cases'][0]} |")
        lines += ["", "A rejection (or a wrong result) is recorded, not counted as a failure, where the runtime's "
                  "class says it is not held to the file (`Runtime.known_limit`: `target=\"onnxruntime\"` files "
                  "on other runtimes, float64 files where float64 is not computed, ONNX Loop on tract); any "
                  "other one fails its case.", ""]
    lines += _compatibility_lines(records, summary, rt)
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
               r["dtype"], r["strategy"], r["target"], str(r["opset"]), _md(_forms_cell(r)),
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


def complete_meta(meta=None):
    """A copy of `meta` with the report's defaults: generated (now), command, seconds, versions."""
    meta = dict(meta or {})
    meta.setdefault("generated", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    meta.setdefault("command", "rnn2onnx conformance")
    meta.setdefault("seconds", 0.0)
    meta.setdefault("versions", _versions())
    return meta


def write_reports(out_dir, records, runtime_names, coverage=(), meta=None):
    """Write conformance.md and conformance.json into out_dir; returns (md path, json path, summary)."""
    meta = complete_meta(meta)
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
