"""What the examples share: finding `reference`, padding, exporting the trained model and
the command line."""
import argparse
import os
import sys

import numpy as np

try:
    import reference  # noqa: F401
except ImportError:  # an example run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def pad_sequences(sequences, maxlen, value=0):
    """Keras's pad_sequences defaults: pad and truncate at the front."""
    out = np.full((len(sequences), maxlen), value, dtype=np.int64)
    for i, s in enumerate(sequences):
        s = list(s)[-maxlen:]
        if s:
            out[i, maxlen - len(s):] = s
    return out


def export_onnx(model, path):
    """rnn2onnx.export(model, path) when the compiler is available; None otherwise."""
    try:
        from rnn2onnx import export
    except ImportError as err:
        print(f"ONNX export skipped: rnn2onnx.export is not available ({err})")
        return None
    proto = export(model, path)
    print(f"exported the trained model to {path} (checked against onnxruntime)")
    return proto


def export_and_check(model, path, inputs):
    """Export to `path` (export_onnx), then run the file on the example's own held-out
    `inputs` in onnxruntime and compare with model.predict (rnn2onnx.validate: max |onnx -
    reference| / max |reference| within 1e-5 in float32); prints and returns the report
    (raises if it fails). None when there is no path or no compiler."""
    if not path or export_onnx(model, path) is None:
        return None
    from rnn2onnx.validation import validate

    report = validate(model, path, inputs=inputs)
    worst = max(report.outputs, key=lambda o: o.max_rel_error)
    print(f"ONNX vs reference on {report.samples} held-out inputs: max rel error {worst.max_rel_error:.2e} "
          f"(tolerance {worst.tolerance:.0e})")
    return report


def main(run, doc, default_onnx, argv=None):
    """Parse --epochs/--seed/--verbose/--onnx and call run()."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: run()'s budget)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--onnx", default=default_onnx, help="where to write the ONNX model ('' to skip)")
    args = parser.parse_args(argv)
    kwargs = {} if args.epochs is None else {"epochs": args.epochs}
    run(seed=args.seed, verbose=args.verbose, onnx_path=args.onnx or None, **kwargs)
