"""The runtimes an exported file is run on, one small class each, in one registry.

A runtime class says what it is (name, the pip package and extra that install it,
its version), whether it computes float64 files in float64, what it is known to
reject and why, and loads a model: `Runtime().load(model) -> run(feeds) -> [arrays]`.
Everything that chooses or judges a runtime (validate, the CLI, the conformance
runner and report) asks these classes; nothing else compares runtime names.

    runtimes.load("tract", model)(feeds)      # by name
    runtimes.get("openvino").computes_float64  # the class

tract runs in a separate worker process (rnn2onnx/tract_worker.py): a Rust panic aborts
the process it happens in, and it must not take the caller with it.
"""
import importlib.metadata
import importlib.util
import json
import os
import re
import select
import struct
import subprocess
import sys
import tempfile

import numpy as np

from .errors import ExportError


class RuntimeNotAvailable(ExportError):
    """A runtime that is unknown or not installed; the message says how to install it."""


class RuntimeCrashed(RuntimeError):
    """The runtime's process died (e.g. a tract panic) while loading or running a model."""


class TractError(RuntimeError):
    """tract refused a model or failed to run it (its message, without the backtrace)."""


def _is_proto(model):
    import onnx

    return isinstance(model, onnx.ModelProto)


def _model_path_or_bytes(model):
    return model.SerializeToString() if _is_proto(model) else os.fspath(model)


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
    def known_limit(cls, target, dtype, loop_op="scan"):
        """Why this runtime is not held to files exported with these options (a refusal or a
        wrong result is then recorded, not a failure), or None: portable files are made to
        run everywhere (a target="onnxruntime" file may use native activations that
        OpenVINO refuses and tract silently replaces)."""
        if target != "portable":
            return f'only target="portable" files are made to run on {cls.name}'
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
    def known_limit(cls, target, dtype, loop_op="scan"):
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
                     "wrong results: 6 conformance cases (stack2), errors 0.03-0.27"))

    def workaround(self, message):
        if "snippet" in message.lower() or "Layout rank" in message:
            return {"openvino_config": {"SNIPPETS_MODE": "DISABLE"}}, "SNIPPETS_MODE=DISABLE"
        return None

    def _load(self, model, threads=None, openvino_config=None):
        """`openvino_config`: CPU plugin properties added to the f32 precision hint."""
        import openvino

        core = openvino.Core()
        if _is_proto(model):
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.onnx")
                with open(path, "wb") as f:
                    f.write(model.SerializeToString())
                ov_model = core.read_model(path)
        else:
            ov_model = core.read_model(os.fspath(model))
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
    def known_limit(cls, target, dtype, loop_op="scan"):
        if loop_op == "loop":
            return "tract has no ONNX Loop (Unimplemented(Loop))"
        return super().known_limit(target, dtype, loop_op)

    def _load(self, model, threads=None, dims="concrete"):
        if dims not in ("concrete", "symbolic"):
            raise ValueError(f"unknown dims {dims!r}; accepted: concrete, symbolic")
        return _tract_worker().load(model, symbolic=dims == "symbolic")


REGISTRY = {cls.name: cls for cls in (OnnxRuntime, OpenVINO, Tract)}
RUNTIMES = tuple(REGISTRY)


def get(name):
    """The runtime class registered as `name`; an error listing the accepted names."""
    if name not in REGISTRY:
        raise RuntimeNotAvailable(f"unknown runtime {str(name)[:40]!r}; accepted: {', '.join(RUNTIMES)}")
    return REGISTRY[name]


def available():
    """Names of the installed runtimes."""
    return [name for name, cls in REGISTRY.items() if cls.available()]


def load(name, model, threads=None, **options):
    """A function feeds -> list of output arrays, for an onnx.ModelProto or a path.
    Options go to the runtime (OpenVINO: openvino_config; tract: dims)."""
    return get(name)().load(model, threads=threads, **options)


# ---------------------------------------------------------------------------------------
# the tract worker process: one per parent process, started on first use, restarted
# after a crash; messages are length-prefixed JSON headers and .npy arrays (no pickle)


def write_message(stream, header, arrays=()):
    body = json.dumps(dict(header, arrays=len(arrays))).encode()
    stream.write(struct.pack("<Q", len(body)) + body)
    for a in arrays:
        buf = _npy_bytes(a)
        stream.write(struct.pack("<Q", len(buf)) + buf)
    stream.flush()


def _npy_bytes(array):
    import io

    out = io.BytesIO()
    np.save(out, np.ascontiguousarray(array), allow_pickle=False)
    return out.getvalue()


def read_message(read):
    """(header, arrays) from `read(n) -> bytes`; EOFError when the stream ends."""
    import io

    header = json.loads(_read_frame(read))
    arrays = [np.load(io.BytesIO(_read_frame(read)), allow_pickle=False) for _ in range(header.pop("arrays"))]
    return header, arrays


def _read_frame(read):
    (size,) = struct.unpack("<Q", _read_exact(read, 8))
    return _read_exact(read, size)


def _read_exact(read, n):
    chunks, left = [], n
    while left:
        chunk = read(left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class _TractWorker:
    TIMEOUT = 600  # seconds one request may take before the worker is deemed hung

    def __init__(self):
        self.proc, self.log, self.generation = None, None, 0

    def _start(self):
        self.log = tempfile.TemporaryFile()
        env = dict(os.environ, RUST_BACKTRACE="0", RUST_LIB_BACKTRACE="0")
        # this very package, whatever the current directory holds (`-m` would look there first)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        boot = f"import sys; sys.path.insert(0, {root!r}); from rnn2onnx.tract_worker import main; sys.exit(main())"
        self.proc = subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env)
        self.generation += 1

    def _read(self, n):
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], self.TIMEOUT)
        if not ready:
            self.proc.kill()
            raise RuntimeCrashed(f"tract did not answer within {self.TIMEOUT} s (worker killed)")
        return os.read(fd, n)

    def request(self, header, arrays=()):
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            write_message(self.proc.stdin, header, arrays)
            reply, out = read_message(self._read)
        except (EOFError, BrokenPipeError, OSError):
            raise RuntimeCrashed(self._crash_message()) from None
        if not reply["ok"]:
            raise TractError(f"tract refused the model: {reply['error']}")
        return reply, out

    def _crash_message(self):
        code = self.proc.wait(timeout=30)
        self.log.seek(0)
        lines = [line.strip() for line in self.log.read().decode(errors="replace").splitlines() if line.strip()]
        panics = [line for line in lines if "panicked at" in line or line.startswith("fatal")]
        detail = panics[0] if panics else (lines[-1] if lines else "no message")
        detail = re.sub(r"thread '[^']*' \(\d+\) ", "", detail)  # the thread id differs per run
        self.proc, self.log = None, None
        return f"tract crashed (exit status {code}): {detail[:300]}"

    def load(self, model, symbolic=False):
        with tempfile.TemporaryDirectory() as tmp:
            if _is_proto(model):  # the worker keeps its own copy of the temporary file
                path = os.path.join(tmp, "model.onnx")
                with open(path, "wb") as f:
                    f.write(model.SerializeToString())
            else:  # read in place (its external data, if any, beside it)
                path = os.path.abspath(os.fspath(model))
            reply, _ = self.request({"op": "load", "path": path, "symbolic": symbolic, "copy": _is_proto(model)})
        return _TractModel(self, reply["id"])


class _TractModel:
    """A model loaded in the tract worker: call it with feeds; dropped there when collected."""

    def __init__(self, worker, model_id):
        self.worker, self.id, self.generation = worker, model_id, worker.generation

    def __call__(self, feeds):
        if self.generation != self.worker.generation:
            raise RuntimeCrashed("the tract worker holding this model has crashed since it was loaded")
        names = list(feeds)
        _, outputs = self.worker.request({"op": "run", "id": self.id, "inputs": names},
                                         [np.asarray(feeds[n]) for n in names])
        return outputs

    def __del__(self):
        try:
            if self.generation == self.worker.generation and self.worker.proc.poll() is None:
                write_message(self.worker.proc.stdin, {"op": "drop", "id": self.id})
        except Exception:  # noqa: BLE001 - best effort (interpreter shutdown, dead worker)
            pass


_WORKER = None


def _tract_worker():
    global _WORKER
    if _WORKER is None:
        _WORKER = _TractWorker()
    return _WORKER
