"""rnn2onnx conformance: one table of where exported models agree with the reference.

    rnn2onnx conformance [--quick] [--out DIR] [--runtimes onnxruntime,openvino,tract] [--bench BENCH.json]
    python -m rnn2onnx.conformance ...

Builds a matrix of models (every recurrent layer; masks none/left/right/holes/masking;
return_sequences; float32/float64; strategies auto and loop; targets onnxruntime and
portable; the smallest, middle and largest supported opsets; activation variants; the
loop form as ONNX Loop; a few stacked models; containers: Merge-first Sequentials with
every merge mode, concat on the feature and time axes, masked and unmasked branches and
a nested Merge, and Graphs with two inputs and two or more outputs; inputs of different
lengths where the merge allows), exports each with ``validate=False``,
runs the file on onnxruntime and, where installed, OpenVINO (f32 precision hint) and
tract (concrete input shapes, in a worker process), compares with ``model.predict``
and writes ``conformance.md`` and ``conformance.json`` (atomically) to ``--out``, and
with plotly installed (the ``report`` extra) ``conformance.html``: the same report as one
self-contained page with charts (and, given ``--bench``, ``rnn2onnx bench --json``'s ratios).

It also runs the *peer vectors*: the LSTM/GRU/RNN cases of the ONNX backend node tests
(``onnx.backend.test.case.node.lstm/gru/rnn``), converted to Keras layers, through the
reference and through our exported graphs, against the ONNX tests' expected outputs.

Verdicts (per runtime):
  pass       error within the tolerance (float32 1e-5, float64 1e-10, relative to the
             output's scale: max |reference|, at least validate.SCALE_FLOOR: 0.024 in
             float32, 4.4e-6 in float64);
  FAIL       a numeric disagreement, an export error, or a file onnxruntime refused;
  rejected   another runtime refused the file (or crashed on it);
  FAIL/rejected of a runtime other than onnxruntime is recorded, not a failure, where
             the runtime's class says it is not held to the file (Runtime.known_limit:
             target "onnxruntime" files, float64 where it is not computed, Loop on
             tract); a portable file it should run fails its case;
  f32-only   a runtime that computes float64 files in float32 (OpenVINO's CPU plugin
             has no f64 kernels) agreed within the float32 tolerance: recorded, not a failure.
The command exits 1 when any case fails.
"""
import argparse
import os
import sys
import time

from .. import runtimes
from .matrix import CONTAINER_MODELS, DTYPES, MASKS, RECURRENT, STRATEGIES, TARGETS, Case, build_matrix, opset_choices
from .peers import peer_cases
from . import html_report
from .report import complete_meta, format_error, write_reports
from .runner import Progress, run, short_message

__all__ = ["main", "build_matrix", "peer_cases", "run", "write_reports", "Case", "Progress", "short_message",
           "opset_choices", "RECURRENT", "MASKS", "DTYPES", "STRATEGIES", "TARGETS", "CONTAINER_MODELS"]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="rnn2onnx conformance",
        description="Export a matrix of models, run them on onnxruntime (and OpenVINO and tract where installed), "
                    "compare with the reference and write conformance.md/json. Exit 1 if a case fails.")
    parser.add_argument("--quick", action="store_true", help="every layer and mask kind once (under a minute)")
    parser.add_argument("--out", default="conformance-out", help="output folder (default ./conformance-out)")
    parser.add_argument("--runtimes", default=None,
                        help=f"comma-separated runtimes (default: every installed one of {', '.join(runtimes.RUNTIMES)})")
    parser.add_argument("--filter", default=None, help="only cases whose id contains this text")
    parser.add_argument("--no-peers", action="store_true", help="leave out the ONNX backend-test peer vectors")
    parser.add_argument("--keep-models", action="store_true",
                        help="save every exported file under OUT/models (default: only failing or rejected ones)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--bench", metavar="PATH", default=None,
                        help="a file written by `rnn2onnx bench --json PATH`: its ratios are charted in conformance.html")
    args = parser.parse_args(argv)
    bench = None
    if args.bench:
        try:  # checked before the run, not after it
            bench = html_report.load_bench(args.bench)
        except html_report.BenchFileError as exc:
            parser.error(str(exc))

    available = runtimes.available()
    if args.runtimes:
        wanted = [r.strip() for r in args.runtimes.split(",") if r.strip()]
        unknown = [r for r in wanted if r not in runtimes.RUNTIMES]
        if unknown:
            parser.error(f"unknown runtime(s) {', '.join(unknown)}; accepted: {', '.join(runtimes.RUNTIMES)}")
        missing = [r for r in wanted if r not in available]
        if missing:
            parser.error("; ".join(runtimes.get(r).install_hint() for r in missing))
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
    absent = [r for r in runtimes.RUNTIMES if r not in available]
    print(f"rnn2onnx conformance: {len(cases)} cases on {', '.join(runtime_names)}"
          + (f" ({', '.join(absent)} not installed)" if absent else ""), file=sys.stderr)
    records = run(cases, runtime_names, progress=not args.no_progress,
                  keep_dir=os.path.join(args.out, "models"), keep_all=args.keep_models)
    command = "rnn2onnx conformance" + (" --quick" if args.quick else "")
    meta = complete_meta({"command": command, "seconds": time.perf_counter() - started, "quick": args.quick})
    md_path, json_path, summary = write_reports(args.out, records, runtime_names, coverage, meta)
    written = f"{md_path} and {json_path}"
    if html_report.available():
        written = f"{md_path}, {json_path} and " + html_report.write_html(args.out, records, summary, runtime_names, meta,
                                                                     bench, args.bench)
    print(f"{summary['cases']} cases: {summary['passed']} passed, {summary['failed']} failed "
          f"({meta['seconds']:.0f} s); wrote {written}")
    if not html_report.available():
        print(f"  (conformance.html needs plotly: {html_report.INSTALL_HINT})")
    for key, s in summary["worst"].items():
        print(f"  {key:28s} worst rel err {format_error(s['worst_rel'])}  abs {format_error(s['worst_abs'])}  "
              + ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items())))
    for r in records:
        if not r["passed"]:
            print(f"  FAIL {r['id']}: {'; '.join(r['reasons'])}")
    return 0 if summary["failed"] == 0 else 1
