"""The `rnn2onnx` command: Keras model files (0.1.x–2.x) in, validated ONNX out.

    rnn2onnx convert CONFIG WEIGHTS -o MODEL.onnx   Keras config + HDF5 weights -> ONNX, validated
    rnn2onnx convert MODEL.h5 -o MODEL.onnx         a Keras 1.x/2.x model.save file -> ONNX, validated
    rnn2onnx inspect CONFIG [WEIGHTS] | MODEL.h5    the release (and backend) that wrote the files and why,
                                                    model summary, structure (branches, nodes, merges) and
                                                    what each layer becomes in ONNX
    rnn2onnx validate MODEL.onnx CONFIG WEIGHTS     compare an ONNX file with the reference model
    rnn2onnx demo | bench | conformance [...]       train-export-validate demo, benchmarks, conformance

CONFIG is what Keras 0.1.x–2.x's `model.to_json()` or `to_yaml()` wrote (.json, .yaml or
.yml; other names are sniffed), WEIGHTS what `model.save_weights()` wrote (HDF5), MODEL.h5
what Keras 1.x/2.x's `model.save()` wrote (config and weights in one HDF5 file).
Exit status: 0 on success, 1 when the work failed (bad file, export error, validation
mismatch), 2 on a usage error, 128+N when stopped by signal N (SIGINT, SIGTERM, SIGHUP:
the staging files are removed). Errors are one sentence on stderr; nothing is written
unless the whole conversion succeeded. When only the report cannot be printed (stdout
closed or full), convert and validate keep their status and say so on stderr; inspect
fails. docs/bad-input.md lists what is refused and how.
"""
import argparse
import contextlib
import os
import signal
import sys
import threading

DELEGATED = {
    "demo": "train a small masked model on built-in data, export it, validate it",
    "bench": "benchmark the exported forms against onnxruntime's native ops",
    "conformance": "run the conformance suite",
}
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
LINE_LIMIT = 200  # characters of a printed line that holds names from a file


class CommandError(Exception):
    """A failure to report as one sentence (exit status 1)."""


def _one_line(text):
    """One line, bounded: messages quote file values through reference.untrusted.quote
    already; this caps what a runtime's or library's own message may add."""
    from reference.untrusted import shorten

    return shorten(text, 600)


# -- loading ---------------------------------------------------------------------------------
def _load(config, weights=None, dtype=None, keras_version=None, keras_backend=None):
    from reference import build

    # compile=False: the optimizer of a compiled config plays no part in prediction or export
    # initialise=False: weights are loaded (after their shapes are checked) or never read
    # dtype=None: the weights file's dtype (Keras 0.2.0 saved in floatX, float64 by default)
    # keras_version=None: the release is told from the file, or the file is refused
    return build.load_model(config, weights, dtype=dtype, compile=False, initialise=False,
                            keras_version=keras_version, keras_backend=keras_backend)


def _release_lines(model):
    """Which Keras release's rules the model computes, and why; then what loading ignored."""
    return [getattr(model, "keras_release", "Keras release not told")] + \
        [f"  {note}" for note in getattr(model, "keras_notes", [])]


def _dtype_line(model, flag="--dtype"):
    """Which dtype the model computes in, and why."""
    from reference.models import DTYPE_FROM_ARGUMENT

    why = flag if model.dtype_from == DTYPE_FROM_ARGUMENT else model.dtype_from
    return f"dtype {model.dtype} ({why})"


def _require_built(model, what, weights):
    if not all(layer.built for layer in model.layers):
        hint = ("and the weights file does not reveal it" if weights else
                "pass the WEIGHTS file too (the input width is read from the first layer's weights)")
        raise CommandError(f"the config does not give the model's input shape, so it cannot be {what}; {hint}")


# -- subcommands -----------------------------------------------------------------------------
def _refuse_nonfinite(model):
    """convert refuses NaN/inf weights (the Python API only warns): such a model's
    outputs are not numbers, so no validation could pass it honestly."""
    import numpy as np

    for index, layer in enumerate(model.layers):
        for pos, (name, w) in enumerate(zip(layer.weight_names, layer.get_weights())):
            if not np.all(np.isfinite(w)):
                kind = "NaN" if np.any(np.isnan(w)) else "inf"
                raise CommandError(f"layer {index} ({type(layer).__name__} {layer.name}): weight {pos} ({name}) "
                                   f"holds {kind}; a model whose weights are not finite is not converted")


def _require_weights(args, what):
    """A config file needs its weights file; a Keras 1.x/2.x model.save file holds them."""
    from reference.keras_files.hdf5_12 import is_hdf5

    if args.weights is None and not is_hdf5(args.config):
        raise CommandError(f"{what} needs the WEIGHTS file (save_weights) with the CONFIG file, or one "
                           "Keras 1.x/2.x model.save file (MODEL.h5)")


def cmd_convert(args, out, err):
    import rnn2onnx
    from reference.files import check_output_path

    # before anything is read or written: the output is never one of the inputs
    check_output_path(args.output, [args.config, args.weights])
    _require_weights(args, "convert")
    model = _load(args.config, args.weights, args.dtype, args.keras_version, args.keras_backend)
    _require_built(model, "exported", args.weights)
    _refuse_nonfinite(model)
    target = os.path.abspath(args.output)

    try:
        report = _export(model, args, target)
    except rnn2onnx.ValidationError as exc:
        print(exc.report.format_table(), file=out)
        raise CommandError(_failure_sentence(exc.report) + f"; {args.output} was not written") from None

    print(f"wrote {args.output} ({_inputs_text(model)}, {len(model.layers)} layers, "
          f"{model.dtype}, strategy {args.strategy}, target {args.target})", file=out)
    print(_dtype_line(model), file=out)
    print("\n".join(_release_lines(model)), file=out)
    if report is None:
        print("validation skipped (--no-validate)", file=out)
    else:
        print(report.format_table(), file=out)
    return EXIT_OK


def _inputs_text(model):
    """'Embedding input', or 'inputs input_1 (int64), input_2 (float64)' for a container."""
    from rnn2onnx.structure import is_functional, is_graph, model_inputs

    ports = model_inputs(model)
    if len(ports) == 1 and not is_graph(model) and not is_functional(model):
        return f"{type(model.layers[0]).__name__} input"
    return "inputs " + ", ".join(f"{p.name} ({'int64' if p.ids else model.dtype})" for p in ports)


def _export(model, args, target):
    """Export (and validate, once) into `target`; the validation report, or None with
    --no-validate. The exporter validates in a staging folder beside `target` and renames
    into place only after validation passed (a model with external data included)."""
    from rnn2onnx.exporter import export_with_report

    _, report = export_with_report(model, target, opset=args.opset, strategy=args.strategy, target=args.target,
                                   loop_op=args.loop_op, validate=not args.no_validate, n=args.n,
                                   inputs=[args.config, args.weights], fixed_shape=fixed_shape(args.fixed_shape))
    return report


def cmd_inspect(args, out, err):
    import rnn2onnx
    from reference.untrusted import CELL_LIMIT, printable, table
    from rnn2onnx.exporter import check_names
    from rnn2onnx.structure import describe, is_functional, is_graph, model_inputs

    model = _load(args.config, args.weights, args.dtype, args.keras_version, args.keras_backend)
    _require_built(model, "summarised", args.weights)
    check_names(model)  # before anything is printed
    print("\n".join(_release_lines(model)), file=out)
    print(_dtype_line(model), file=out)
    model.summary(print_fn=lambda text: print(text, file=out))
    plan = rnn2onnx.plan(model, strategy=args.strategy, target=args.target, opset=args.opset, loop_op=args.loop_op,
                         fixed_shape=fixed_shape(args.fixed_shape))
    if is_graph(model) or is_functional(model) or len(model_inputs(model)) > 1:  # its branches, nodes, merges
        print("", file=out)
        print("Structure (as exported):", file=out)
        for line in describe(model, plan):
            print("  " + printable(line, LINE_LIMIT), file=out)
    rows = [("Layer", "ONNX form", "Why")]
    rows += [(printable(name, CELL_LIMIT), form, reason or "-") for name, form, reason in plan]
    print("", file=out)
    print(f"ONNX plan (strategy {args.strategy}, target {args.target}):", file=out)
    for line in table(rows, cell_limit=LINE_LIMIT):  # the reasons are the exporter's own sentences
        print(line, file=out)
    return EXIT_OK


def cmd_validate(args, out, err):
    import rnn2onnx

    from reference.files import check_input
    from rnn2onnx.exporter import check_names

    check_input(args.model, "ONNX file")
    # the ONNX file fixes the dtype its inputs and outputs have: the reference follows it
    # (a file converted with --dtype float32 from float64 weights is validated in float32)
    dtype = args.dtype or _onnx_dtype(args.model)
    _require_weights(args, "validate")
    model = _load(args.config, args.weights, dtype, args.keras_version, args.keras_backend)
    _require_built(model, "validated", args.weights)
    check_names(model)  # the report's table holds them
    print(_dtype_line(model, "--dtype" if args.dtype else "from the ONNX file"), file=out)
    try:
        report = rnn2onnx.validate(model, args.model, n=args.n, runtime=args.runtime)
    except rnn2onnx.ValidationError as exc:
        print(exc.report.format_table(), file=out)
        raise CommandError(_failure_sentence(exc.report)) from None
    print(report.format_table(), file=out)
    if not report.passed:
        raise CommandError(_failure_sentence(report))
    return EXIT_OK


def _onnx_dtype(path):
    """float32 or float64: the element type of the ONNX file's (first float) output."""
    import onnx

    try:
        proto = onnx.load(path, load_external_data=False)
        elems = [o.type.tensor_type.elem_type for o in proto.graph.output]
        elem = next((e for e in elems if e in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE)), elems[0])
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise CommandError(f"{path} is not a readable ONNX file ({_one_line(exc) or type(exc).__name__})") from None
    return "float64" if elem == onnx.TensorProto.DOUBLE else "float32"


def _failure_sentence(report):
    worst = max(report.outputs, key=lambda o: o.max_rel_error) if report.outputs else None
    if worst is None:
        return "validation failed: the ONNX model disagrees with the reference"
    return (f"validation failed: the ONNX model disagrees with the reference on '{worst.name}' "
            f"(max relative error {worst.max_rel_error:.3e} > tolerance {worst.tolerance:.0e})")


# -- argument parsing ------------------------------------------------------------------------
def _fixed_shape_arg(text):
    """'1x50' -> (None, (1, 50)); 'tok=1x50' -> ('tok', (1, 50))."""
    name, _, dims = text.rpartition("=")
    parts = dims.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected BATCHxTIME or NAME=BATCHxTIME (e.g. 1x50), got {text[:80]!r}")
    return name or None, (int(parts[0]), int(parts[1]))


def fixed_shape(values):
    """export's fixed_shape from the --fixed-shape arguments: one (batch, time) for every
    input, or {input name: (batch, time)}."""
    if not values:
        return None
    if len(values) == 1 and values[0][0] is None:
        return values[0][1]
    if any(name is None for name, _ in values):
        raise CommandError("--fixed-shape: with several inputs give each one as NAME=BATCHxTIME")
    return dict(values)


def build_parser():
    from rnn2onnx import runtimes
    from rnn2onnx.targets import TARGETS

    parser = argparse.ArgumentParser(
        prog="rnn2onnx", description=__doc__.split("\n\n")[0],
        epilog="Run 'rnn2onnx COMMAND --help' for a command's options.")
    parser.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def keras_version_option(p):
        from reference.keras_files.releases import RELEASES
        from reference.keras_files.releases12 import RELEASES12

        p.add_argument("--keras-version", choices=RELEASES + RELEASES12, default=None, metavar="RELEASE",
                       help="the Keras release that wrote the files, when they do not tell it "
                            f"({', '.join(RELEASES)}, {RELEASES12[0]}–{RELEASES12[-1]}); a release the files "
                            "contradict is refused")
        from reference.keras_files.releases12 import BACKENDS

        p.add_argument("--keras-backend", choices=BACKENDS, default=None, metavar="BACKEND",
                       help="the backend that wrote a Keras 1.x file (its files do not state it), where the "
                            f"numbers depend on it (convolutions): {', '.join(BACKENDS)}; one the file "
                            "contradicts is refused")

    def model_options(p, opset=True):
        keras_version_option(p)
        p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                       help="precision of the reference model and the ONNX graph (default: the weights "
                            "file's, which is Keras's floatX; float32 without a weights file)")
        p.add_argument("--strategy", choices=("auto", "loop", "native", "unrolled"), default="auto",
                       help="native ops where exact, Loop otherwise (auto); every cell as a Loop; "
                            "native ops or an error; unrolled: no Scan/Loop/If, every step in the graph "
                            "(needs --fixed-shape)")
        p.add_argument("--target", choices=tuple(TARGETS), default="onnxruntime",
                       help="; ".join(f"{name}: {t.summary}" for name, t in TARGETS.items()))
        p.add_argument("--loop-op", choices=("scan", "loop"), default="scan",
                       help="the ONNX op the loop form is wrapped in: Scan (default, faster) or Loop "
                            "(for consumers without Scan)")
        p.add_argument("--fixed-shape", metavar="BATCHxTIME", action="append", type=_fixed_shape_arg, default=None,
                       help="the one input shape the file takes, e.g. 1x50 (for a model with several inputs "
                            "NAME=BATCHxTIME, once per input): no empty-input guard; with --strategy unrolled "
                            "no control flow (for converters such as onnx2tf)")
        if opset:
            p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")

    p = sub.add_parser("convert", help="Keras config + HDF5 weights, or a model.save file -> validated ONNX file",
                       description="Load a Keras 0.1.x-2.x model (config + weights, or one Keras 1.x/2.x "
                                   "model.save file), export it to ONNX, check the ONNX file against the "
                                   "reference model in onnxruntime and print the comparison. Nothing is "
                                   "written unless every step succeeds.")
    p.add_argument("config", metavar="CONFIG",
                   help="model config from to_json()/to_yaml(), or a Keras 1.x/2.x model.save file (MODEL.h5)")
    p.add_argument("weights", metavar="WEIGHTS", nargs="?", default=None,
                   help="HDF5 weights from save_weights() (not with a model.save file)")
    p.add_argument("-o", "--output", metavar="MODEL.onnx", required=True, help="ONNX file to write")
    model_options(p)
    p.add_argument("--no-validate", action="store_true", help="skip the onnxruntime comparison")
    p.add_argument("--n", type=int, default=8, help="generated validation samples (default: 8)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("inspect", help="model summary and what each layer becomes in ONNX",
                       description="Print the model summary and, per layer, the ONNX form it will be "
                                   "exported as (native op or Loop) and why.")
    p.add_argument("config", metavar="CONFIG")
    p.add_argument("weights", metavar="WEIGHTS", nargs="?", default=None)
    model_options(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("validate", help="compare an ONNX file with the reference model from the Keras files",
                       description="Run the ONNX file on generated inputs (every padding kind) and compare "
                                   "with the reference model read from CONFIG and WEIGHTS. Exit status 1 "
                                   "on a mismatch.")
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("config", metavar="CONFIG", help="model config, or a Keras 1.x/2.x model.save file")
    p.add_argument("weights", metavar="WEIGHTS", nargs="?", default=None)
    p.add_argument("--n", type=int, default=8, help="generated samples (default: 8)")
    p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="precision of the reference model (default: the ONNX file's)")
    keras_version_option(p)
    p.add_argument("--runtime", choices=runtimes.RUNTIMES, default="onnxruntime",
                   help="the runtime that runs the file (openvino and tract are optional extras: "
                        "pip install \"rnn2onnx[openvino]\" / \"rnn2onnx[tract]\")")
    p.set_defaults(func=cmd_validate)

    for name, text in DELEGATED.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def _delegate(name, argv):
    import importlib

    try:
        module = importlib.import_module(f"rnn2onnx.{name}")
    except ImportError as exc:
        if exc.name == f"rnn2onnx.{name}":
            raise CommandError(f"the '{name}' command is not available in this installation") from None
        raise
    status = module.main(list(argv))
    return EXIT_OK if status is None else int(status)


def main(argv=None, out=None, err=None):
    _reserve_standard_fds()
    out = Terminal(out or sys.stdout)
    err = Terminal(err or sys.stderr)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with _signals_interrupt():
            status = _main(argv, out, err)
    except Signalled as exc:  # the staging files are gone: the exception ran every cleanup
        print(f"rnn2onnx: stopped by {signal.Signals(exc.signum).name}; nothing was written", file=err)
        return 128 + exc.signum
    return _status_after_printing(status, argv, out, err)


def _main(argv, out, err):
    debug = "--traceback" in argv
    if debug:
        argv.remove("--traceback")
    debug = debug or bool(os.environ.get("RNN2ONNX_TRACEBACK"))

    parser = build_parser()
    import warnings

    import numpy as np

    # numpy's overflow/invalid RuntimeWarnings say nothing a user can act on (non-finite
    # results fail validation with a sentence); our own warnings print as one line each
    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = _run(parser, argv, out, err, debug)
        if status == EXIT_OK:  # a failure is one sentence; what was warned about led to it
            for message in dict.fromkeys(str(w.message) for w in caught
                                         if issubclass(w.category, (RuntimeWarning, UserWarning))):
                print(f"rnn2onnx: warning: {_one_line(message)}", file=err)
        out.flush()
        return status


def _run(parser, argv, out, err, debug):
    try:
        if argv and argv[0] in DELEGATED:  # their own parsers handle their options and --help
            return _delegate(argv[0], argv[1:])
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(out)
            return EXIT_USAGE
        if getattr(args, "n", 1) < 1:
            parser.error("--n must be at least 1")
        return args.func(args, out, err)
    except SystemExit as exc:  # argparse (usage errors, --help) and delegated commands
        code = exc.code
        if isinstance(code, str):  # sys.exit("message"): show it as Python would
            print(code, file=err)
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_FAIL)
    except KeyboardInterrupt:
        print("rnn2onnx: interrupted", file=err)
        return 130
    except BrokenPipeError:  # the reader (e.g. `| head`) is gone: what it wanted, it got
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - every failure becomes one sentence
        if debug:
            raise
        print(f"rnn2onnx: error: {_describe(exc)}", file=err)
        return EXIT_FAIL


# -- signals and the standard streams ---------------------------------------------------------
class Signalled(BaseException):
    """SIGTERM or SIGHUP, raised where the program is, so that every `finally` and
    `except BaseException` runs (the staging folder beside the output is removed) as on
    Ctrl-C."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _signals_interrupt():
    """While the command runs, SIGTERM and SIGHUP raise Signalled (a second one while
    cleaning up is ignored), unless the caller ignores them; the previous handlers come
    back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        for stop in STOP_SIGNALS:
            signal.signal(stop, signal.SIG_IGN)
        raise Signalled(signum)

    # a signal the caller ignores stays ignored (nohup ignores SIGHUP)
    previous = {stop: signal.signal(stop, handler) for stop in STOP_SIGNALS
                if signal.getsignal(stop) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for stop, old in previous.items():
            signal.signal(stop, old)


def _reserve_standard_fds():
    """Open the null device on a closed stdin, stdout or stderr, so that no file the
    command opens takes descriptor 0, 1 or 2 (where a library's own prints would land in
    it). sys.stdout stays None: a closed stdout is reported, not written."""
    for fd, flags in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        try:
            os.fstat(fd)
        except OSError:  # closed: the lowest free descriptor, which os.open takes, is this one
            try:
                os.open(os.devnull, flags)
            except OSError:
                pass


class Terminal:
    """A stream the command prints to. Every line written is made printable (escape
    sequences and other control characters from a file never reach the terminal raw). A
    write that fails (the stream is closed, its device is full, its reader left) is
    remembered in `error` instead of raised: the command's work goes on, and the exit
    status then says what happened (_status_after_printing)."""

    def __init__(self, stream):
        self.stream = stream
        self.error = "it is closed" if stream is None else None

    def write(self, text):
        if self.error is None:
            from reference.untrusted import printable

            self._attempt(lambda: self.stream.write("\n".join(printable(line) for line in text.split("\n"))))
        return len(text)

    def flush(self):
        if self.error is None:
            self._attempt(self.stream.flush)

    def _attempt(self, call):
        try:
            call()
        except BrokenPipeError:
            self.error = BROKEN_PIPE
        except (OSError, ValueError, AttributeError) as exc:  # ValueError: a closed file object
            self.error = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


BROKEN_PIPE = "its reader left"


def _status_after_printing(status, argv, out, err):
    """The exit status once what was printed is known to have reached stdout or not.
    A command whose work is a file or a verdict (convert, validate) keeps its status when
    only its report could not be printed, and says so on stderr: the file is on disk
    (exit 0) or was not written (exit 1, with the one sentence that says why). inspect's
    work is what it prints: when that cannot be printed it fails (exit 1). A reader that
    left (`| head`) got what it wanted: nothing is said."""
    if out.error is None:
        return status
    if out.stream is sys.stdout and out.stream is not None:
        _silence_stdout()  # Python's own flush at exit would fail again, with a traceback
    if out.error == BROKEN_PIPE or status != EXIT_OK:
        return status
    if argv[:1] == ["inspect"]:
        print(f"rnn2onnx: error: the summary could not be printed (stdout: {out.error})", file=err)
        return EXIT_FAIL
    print(f"rnn2onnx: warning: the report could not be printed (stdout: {out.error}); "
          "the command succeeded", file=err)
    return status


def _silence_stdout():
    """Python's recipe for SIGPIPE: point stdout at devnull so the interpreter's final
    flush does not fail again ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests)
        pass


def _describe(exc):
    from reference.errors import ConfigError, InputError

    known = (CommandError, ConfigError, InputError)
    try:
        import rnn2onnx

        from rnn2onnx.runtimes import RuntimeCrashed, RuntimeRefused

        known += (rnn2onnx.ExportError, RuntimeCrashed, RuntimeRefused)
        if isinstance(exc, rnn2onnx.ValidationError):
            return _failure_sentence(exc.report)
    except ImportError:  # pragma: no cover - a broken installation
        pass
    if isinstance(exc, known):
        return _one_line(exc)
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to process"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        return _one_line(f"cannot access{where}: {exc.strerror or exc}")
    if isinstance(exc, MemoryError):
        return "out of memory"
    return _one_line(f"unexpected {type(exc).__name__}: {exc} (rerun with --traceback for details)")


if __name__ == "__main__":
    sys.exit(main())
