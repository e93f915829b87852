"""The runtimes an exported file is run on, one small class each, in one registry.

A runtime class says what it is (name, the pip package and extra that install it,
its version), whether it computes float64 files in float64, what it is known to
reject and why, and loads a model: `Runtime().load(model) -> run(feeds) -> [arrays]`.
Everything that chooses or judges a runtime (validate, the CLI, the conformance
runner and report) asks these classes; nothing else compares runtime names.

    runtimes.load("tract", model)(feeds)      # by name
    runtimes.get("openvino").computes_float64  # the class

tract runs in a separate worker process (rnn2onnx/tract_worker.py holds both sides): a
Rust panic aborts the process it happens in, and it must not take the caller with it.
"""
import importlib.metadata
import importlib.util
import os
import tempfile

from .errors import ExportError


class RuntimeNotAvailable(ExportError):
    """A runtime that is unknown or not installed; the message says how to install it."""


class RuntimeCrashed(RuntimeError):
    """The runtime's process died (e.g. a tract panic) while loading or running a model."""


class RuntimeTimeout(RuntimeCrashed):
    """A runtime did not finish within the time an untrusted file is given (it was stopped)."""


class RuntimeRefused(RuntimeError):
    """A runtime refused to load or run a model (its message, one bounded line)."""


class UntrustedGraphError(RuntimeRefused):
    """A file from elsewhere is refused before it runs: its graph nests or loops beyond bounds."""


class TractError(RuntimeRefused):
    """tract refused a model or failed to run it (its message, without the backtrace)."""


def is_proto(model):
    import onnx

    return isinstance(model, onnx.ModelProto)


def saved_to(model, directory):
    """The path of `model`: a file path as given, an onnx.ModelProto written into `directory`."""
    if not is_proto(model):
        return os.fspath(model)
    path = os.path.join(directory, "model.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def _model_path_or_bytes(model):
    return model.SerializeToString() if is_proto(model) else os.fspath(model)


class Runtime:
    """One runtime. Subclasses set the class attributes and implement `_load`."""

    name = ""
    module = ""            # the Python module it is imported as
    package = ""           # its PyPI distribution
    extra = None           # rnn2onnx's optional extra that installs it (None: a core dependency)
    computes_float64 = True
    #: what it is known to reject or get wrong, and why: (what, why) pairs for the README/report
    known_issues = ()

    @classmethod
    def available(cls):
        return importlib.util.find_spec(cls.module) is not None

    @classmethod
    def version(cls):
        try:
            return importlib.metadata.version(cls.package)
        except importlib.metadata.PackageNotFoundError:
            return None

    @classmethod
    def install_hint(cls):
        what = f'"rnn2onnx[{cls.extra}]"' if cls.extra else cls.package
        return f"{cls.name} is not installed; install it with: pip install {what}"

    @classmethod
    def known_limit(cls, target, dtype, loop_op="scan", opset=None):
        """Why this runtime is not held to files exported with these options (a refusal or a
        wrong result is then recorded, not a failure), or None: portable files are made to
        run everywhere (a target="onnxruntime" file may use native activations that
        OpenVINO refuses and tract silently replaces): Target.all_runtimes."""
        from .targets import TARGETS

        if not TARGETS[target].all_runtimes:
            held = " or ".join(f'target="{name}"' for name, t in TARGETS.items() if t.all_runtimes)
            return f"only {held} files are made to run on {cls.name}"
        if dtype == "float64" and not cls.computes_float64:
            return f"{cls.name} does not compute float64"
        return None

    def workaround(self, message):
        """Options to retry a refused load with, and what they mean; None when there are none."""
        return None

    def load(self, model, threads=None, **options):
        """A function feeds -> list of output arrays, for an onnx.ModelProto or a path."""
        if not self.available():
            raise RuntimeNotAvailable(self.install_hint())
        return self._load(model, threads=threads, **options)

    def _load(self, model, threads=None, **options):  # pragma: no cover - abstract
        raise NotImplementedError


class OnnxRuntime(Runtime):
    name, module, package = "onnxruntime", "onnxruntime", "onnxruntime"
    known_issues = (("LSTM/GRU/RNN ops in float64", "its CPU kernels are float32-only"),
                    ("Softplus in the RNN ops", "computed as log(1 + exp(x)): inf above 88.7 in float32"))

    @classmethod
    def known_limit(cls, target, dtype, loop_op="scan", opset=None):
        return None  # the exporter's reference runtime: every file must run here

    def _load(self, model, threads=None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(_model_path_or_bytes(model), options,
                                               providers=["CPUExecutionProvider"])
        return lambda feeds: session.run(None, feeds)


class OpenVINO(Runtime):
    name, module, package, extra = "openvino", "openvino", "openvino", "openvino"
    computes_float64 = False  # its CPU plugin computes float64 files in float32
    known_issues = (("HardSigmoid/Affine activations in LSTM/GRU/RNN ops", "\"Unsupported activation function\""),
                    ("float64 files", "computed in float32 (no f64 kernels on CPU)"),
                    ("stacked Scans inside the empty-input guard's If (target=\"onnxruntime\" files)",
                     "wrong results on the first inference per input shape (right when called again): "
                     "6 conformance cases (stack2), errors 0.02 to inf"),
                    ("a guarded Scan reading a time-axis concat of guarded branches of different lengths "
                     "(target=\"onnxruntime\" files)",
                     "wrong results: 3 conformance cases (merge-concat-time), errors 0.6-5 relative; the same "
                     "file without the guard agrees"))

    def workaround(self, message):
        if "snippet" in message.lower() or "Layout rank" in message:
            return {"openvino_config": {"SNIPPETS_MODE": "DISABLE"}}, "SNIPPETS_MODE=DISABLE"
        return None

    def _load(self, model, threads=None, openvino_config=None):
        """`openvino_config`: CPU plugin properties added to the f32 precision hint."""
        import openvino

        core = openvino.Core()
        with tempfile.TemporaryDirectory() as tmp:
            ov_model = core.read_model(saved_to(model, tmp))
        config = {"INFERENCE_PRECISION_HINT": "f32", **(openvino_config or {})}  # else bf16 may be used
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        compiled = core.compile_model(ov_model, "CPU", config)
        return lambda feeds: [compiled(feeds)[out] for out in compiled.outputs]


class Tract(Runtime):
    """tract (Sonos's Rust runtime) through its Python bindings, in a worker process.

    `dims="concrete"` (default) types the model for each feed's exact shape, as tract is
    normally used; `dims="symbolic"` types it once with symbolic batch and time."""

    name, module, package, extra = "tract", "tract", "tract", "tract"
    known_issues = (("float64 Sigmoid", "\"Sigmoid does not support F64\" (portable files use Tanh)"),
                    ("Softplus above 88.7", "inf: computed as log(1 + exp(x)) (portable files compose it)"),
                    ("the `activations` attribute of LSTM/GRU/RNN ops", "ignored: ONNX's defaults are computed"),
                    ("LSTM/GRU/RNN ops without initial states and a symbolic batch", "panics (aborts the process)"),
                    ("Scan bodies with a named dim, an unread state input, or a per-step output also read in "
                     "the body", "refused or mis-typed"),
                    ("ONNX Loop", "not supported"))

    @classmethod
    def known_limit(cls, target, dtype, loop_op="scan", opset=None):
        if loop_op == "loop":
            return "tract has no ONNX Loop (Unimplemented(Loop))"
        return super().known_limit(target, dtype, loop_op, opset)

    def _load(self, model, threads=None, dims="concrete"):
        if dims not in ("concrete", "symbolic"):
            raise ValueError(f"unknown dims {dims!r}; accepted: concrete, symbolic")
        from .tract_worker import parent_worker

        return parent_worker().load(model, symbolic=dims == "symbolic")


class _JsRuntime(Runtime):
    """An onnxruntime build for JavaScript, run by js/worker.mjs (rnn2onnx/js_worker.py):
    an npm package installed in js/node_modules, not a Python module."""

    backend = ""  # worker.mjs's backend: "node" or "web"
    npm_packages = ()  # what js/node_modules must hold

    @classmethod
    def available(cls):
        from . import js_worker

        return js_worker.node_executable() is not None and all(
            js_worker.npm_package_version(p) is not None for p in cls.npm_packages)

    @classmethod
    def version(cls):
        from . import js_worker

        return js_worker.npm_package_version(cls.package)

    @classmethod
    def max_opset(cls):
        """The newest opset this build loads, probed once: the npm release may be older than
        the Python onnxruntime that sets the exporter's newest opset."""
        if cls.__dict__.get("_max_opset") is None:
            from .exporter import MIN_OPSET, opset_probe, supported_opsets

            cls._max_opset = MIN_OPSET
            for opset in reversed(supported_opsets()):
                try:
                    cls().load(opset_probe(opset))
                except RuntimeRefused:
                    continue
                cls._max_opset = opset
                break
        return cls._max_opset

    @classmethod
    def known_limit(cls, target, dtype, loop_op="scan", opset=None):
        """Held to every file onnxruntime runs, up to the newest opset its release reads."""
        if opset is not None and opset > cls.max_opset():
            return f"{cls.name} {cls.version()} reads opsets up to {cls.max_opset()}"
        return None

    @classmethod
    def install_hint(cls):
        from . import js_worker

        return (f"{cls.name} is not installed; install it with: cd {js_worker.JS_DIR} && "
                f"ONNXRUNTIME_NODE_INSTALL=skip npm ci (Node.js 20)")

    #: graph optimizers left out by default (see known_issues)
    DISABLED_OPTIMIZERS = ("MatMulScaleFusion",)

    def _load(self, model, threads=None, disabled_optimizers=DISABLED_OPTIMIZERS):
        """`disabled_optimizers`: onnxruntime graph optimizers to leave out (() runs
        onnxruntime's defaults)."""
        from . import js_worker

        return js_worker.worker(self.backend, self.name).load(model, threads=threads,
                                                              disabled_optimizers=disabled_optimizers)


class OnnxRuntimeNode(_JsRuntime):
    """onnxruntime-node: onnxruntime's CPU execution provider in a Node.js process."""

    name, package, backend = "onnxruntime-node", "onnxruntime-node", "node"
    npm_packages = ("onnxruntime-node",)
    known_issues = (("LSTM/GRU/RNN ops in float64", "its CPU kernels are float32-only (as onnxruntime's)"),
                    ("float64 MatMul after a Div or Mul by a constant (merge mode \"ave\", a scaling layer "
                     "before Dense)", "onnxruntime 1.31's MatMulScaleFusion stores the scale as a float32 `alpha`: "
                     "errors up to 3e-8 relative (3 portable conformance cases); rnn2onnx loads with "
                     "optimization.disable_specified_optimizers=MatMulScaleFusion (the Python onnxruntime 1.32 "
                     "is exact)"))


class OnnxRuntimeWeb(_JsRuntime):
    """onnxruntime-web's wasm backend (one thread) on a page in headless Chromium, served
    from 127.0.0.1; every other address is blocked."""

    name, package, backend = "onnxruntime-web", "onnxruntime-web", "web"
    npm_packages = ("onnxruntime-web", "playwright-core")
    known_issues = OnnxRuntimeNode.known_issues

    @classmethod
    def available(cls):
        from . import js_worker

        return super().available() and js_worker.chromium_executable() is not None

    @classmethod
    def version(cls):
        from . import js_worker

        version, browser = super().version(), js_worker.chromium_version()
        return f"{version} (Chromium {browser})" if version and browser else version

    @classmethod
    def install_hint(cls):
        return super().install_hint() + ", and Chromium: apt-get install chromium"


REGISTRY = {cls.name: cls for cls in (OnnxRuntime, OpenVINO, Tract, OnnxRuntimeNode, OnnxRuntimeWeb)}
RUNTIMES = tuple(REGISTRY)


def get(name):
    """The runtime class registered as `name`; an error listing the accepted names."""
    if name not in REGISTRY:
        raise RuntimeNotAvailable(f"unknown runtime {str(name)[:40]!r}; accepted: {', '.join(RUNTIMES)}")
    return REGISTRY[name]


def available():
    """Names of the installed runtimes."""
    return [name for name, cls in REGISTRY.items() if cls.available()]


# -- files from elsewhere ---------------------------------------------------------------------
# A file the project did not just write itself may keep a runtime busy for days (a Loop of
# 10**15 steps) or make its compiler take exponential time (OpenVINO on nested Ifs). Such a
# file is checked statically, then runs in a worker process of its own (tract_worker.py)
# that is killed when its time is up, under a memory limit.
UNTRUSTED_TIME_LIMIT = 20.0          # seconds for loading and running, all batches included
UNTRUSTED_MEMORY_LIMIT = 2 << 30     # bytes of data memory, plus four times the file's size
MAX_GRAPH_NESTING = 8                # exported files nest 3 deep (a dispatch If, a Scan, a guard)
MAX_CONSTANT_TRIP_COUNT = 1_000_000  # exported Loops take their trip count from the input's shape


def check_graph_bounds(proto):
    """Raise UntrustedGraphError if `proto`'s subgraphs nest deeper than MAX_GRAPH_NESTING
    or a Loop's trip count is a constant above MAX_CONSTANT_TRIP_COUNT."""
    from onnx import numpy_helper

    stack = [(proto.graph, 1)]
    while stack:
        graph, depth = stack.pop()
        if depth > MAX_GRAPH_NESTING:
            raise UntrustedGraphError(f"the ONNX file nests subgraphs more than {MAX_GRAPH_NESTING} deep; refused "
                                      "before running it (an exported file nests 3 deep)")
        constants = {t.name: t for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value" and node.output:
                        constants[node.output[0]] = attr.t
            if node.op_type == "Loop" and node.input and node.input[0] in constants:
                trips = numpy_helper.to_array(constants[node.input[0]])
                if trips.size == 1 and int(trips.reshape(())) > MAX_CONSTANT_TRIP_COUNT:
                    raise UntrustedGraphError(f"the ONNX file has a Loop of {int(trips.reshape(()))} steps, more than "
                                              f"the {MAX_CONSTANT_TRIP_COUNT} accepted; refused before running it")
            for attr in node.attribute:
                stack.extend((g, depth + 1) for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs))


def load_untrusted(name, model, proto=None, time_limit=UNTRUSTED_TIME_LIMIT, memory_limit=None):
    """Like load(name, model) (a path or an onnx.ModelProto), for a file from elsewhere:
    checked (check_graph_bounds; `proto`: the file's graph if already read), then loaded
    and run in a worker process of its own, stopped once it has taken `time_limit` s to
    answer (load and every run together: RuntimeTimeout, one sentence), with `memory_limit`
    bytes (default UNTRUSTED_MEMORY_LIMIT + 4 x the file's size). Returns a function
    feeds -> outputs with a close() that stops the worker."""
    import onnx

    cls = get(name)
    if not cls.available():
        raise RuntimeNotAvailable(cls.install_hint())
    if proto is None:
        proto = model if is_proto(model) else onnx.load(os.fspath(model), load_external_data=False)
    check_graph_bounds(proto)
    if memory_limit is None:  # the file and the external data an export writes beside it
        size = proto.ByteSize() if is_proto(model) else sum(
            os.path.getsize(p) for p in (os.fspath(model), os.fspath(model) + ".data") if os.path.isfile(p))
        memory_limit = UNTRUSTED_MEMORY_LIMIT + 4 * size
    from .tract_worker import TractWorker

    worker = TractWorker(runtime=name, time_limit=time_limit, memory_limit=memory_limit)
    try:
        return worker.load(model)
    except BaseException:
        worker.close()
        raise


def load(name, model, threads=None, **options):
    """A function feeds -> list of output arrays, for an onnx.ModelProto or a path.
    Options go to the runtime (OpenVINO: openvino_config; tract: dims)."""
    return get(name)().load(model, threads=threads, **options)
