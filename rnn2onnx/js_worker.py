"""The parent side of js/worker.mjs: onnxruntime-node, and onnxruntime-web (wasm) in
headless Chromium, driven from Python (used by runtimes.OnnxRuntimeNode/OnnxRuntimeWeb).

One Node process per backend and Python process, started on first use and kept for the
session (Chromium starts once and keeps its page: every model is loaded into the same
page), restarted after a crash. Messages both ways: an 8-byte little-endian length and a
JSON header, then per entry of header["arrays"] ({name, dtype, shape}) an 8-byte length
and the array's raw little-endian bytes (no pickle, no .npy parsing in JavaScript).
"""
import functools
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile

import numpy as np

from .runtimes import RuntimeCrashed, RuntimeRefused, saved_to
from .tract_worker import TractWorker, _read_frame, _TractModel

#: the JavaScript package (package.json, package-lock.json, worker.mjs, harness.html)
JS_DIR = os.environ.get("RNN2ONNX_JS_DIR") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "js")
#: the dtypes an array may have on the wire, as numpy little-endian dtypes
WIRE_DTYPES = {"float32": "<f4", "float64": "<f8", "int64": "<i8", "int32": "<i4", "bool": "|b1"}
CHROMIUM_NAMES = ("chromium", "chromium-browser")


class JsRuntimeError(RuntimeRefused):
    """onnxruntime-node/-web refused a model or failed to run it (its message)."""


def node_executable():
    return shutil.which("node")


def chromium_executable():
    """The system Chromium playwright-core drives (RNN2ONNX_CHROMIUM overrides the search)."""
    explicit = os.environ.get("RNN2ONNX_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def npm_package_version(package):
    """The version of an npm package installed in JS_DIR, or None."""
    try:
        with open(os.path.join(JS_DIR, "node_modules", package, "package.json"), encoding="utf-8") as f:
            return str(json.load(f)["version"])
    except (OSError, ValueError, KeyError):
        return None


@functools.lru_cache(maxsize=None)
def chromium_version():
    exe = chromium_executable()
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\d+(\.\d+)+", out)
    return found.group(0) if found else None


def write_message(stream, header, arrays=()):
    """One message: `arrays` is a list of (name, array)."""
    described, buffers = [], []
    for name, a in arrays:
        a = np.asarray(a)
        if a.dtype.name not in WIRE_DTYPES:
            raise JsRuntimeError(f"input {str(name)[:40]!r} has dtype {a.dtype.name}; accepted: "
                                 f"{', '.join(WIRE_DTYPES)}")
        described.append({"name": name, "dtype": a.dtype.name, "shape": list(a.shape)})
        buffers.append(np.ascontiguousarray(a, dtype=WIRE_DTYPES[a.dtype.name]).tobytes())
    body = json.dumps(dict(header, arrays=described)).encode()
    stream.write(struct.pack("<Q", len(body)) + body)
    for buf in buffers:
        stream.write(struct.pack("<Q", len(buf)) + buf)
    stream.flush()


def read_message(read):
    """(header, [arrays]) from `read(n) -> bytes`; EOFError when the stream ends."""
    header = json.loads(_read_frame(read))
    arrays = []
    for entry in header.get("arrays") or []:
        dtype = WIRE_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise JsRuntimeError(f"the runtime returned an output of dtype {str(entry['dtype'])[:20]}; "
                                 f"accepted: {', '.join(WIRE_DTYPES)}")
        raw = _read_frame(read)
        arrays.append(np.frombuffer(raw, dtype=dtype).reshape(entry["shape"]).astype(dtype[1:]))
    return header, arrays


def short_error(text):
    """onnxruntime's message without what differs per file or build: the temporary path,
    Playwright's prefix, the source location and the C++ signature before the sentence."""
    text = re.sub(r"Load model from \S+ failed:", "", text)
    text = re.sub(r"^page\.evaluate: Error: ", "", text.strip())
    where = re.search(r"\S+\.(?:cc|cpp|h):\d+ ", text)
    if where:
        rest = text[where.end():]
        depth, end = 0, None
        for i, c in enumerate(rest):  # the signature: up to the ")" closing its first "("
            depth += (c == "(") - (c == ")")
            if c == ")" and depth == 0:
                end = i + 1
                break
        if end is not None and "(" in rest[:end]:
            text = (text[:where.start()] + rest[end:].strip()).strip()
    return text[:500]


class JsWorker(TractWorker):
    """One `node worker.mjs <backend>` process; `label` names the runtime in errors."""

    write_message, read_message = staticmethod(write_message), staticmethod(read_message)

    def __init__(self, backend, label):
        super().__init__()
        self.backend, self.label = backend, label

    def _start(self):
        command = [node_executable() or "node", os.path.join(JS_DIR, "worker.mjs"), self.backend]
        if self.backend == "web":
            command.append(chromium_executable() or "chromium")
        self.log = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                         cwd=JS_DIR)
        except OSError as exc:
            raise RuntimeCrashed(f"{self.label} could not start: {exc}") from None
        self.generation += 1

    def request(self, header, arrays=(), generation=None):
        """The reply and arrays; `generation`: the process a loaded model lives in."""
        if generation is not None and generation != self.generation:
            raise RuntimeCrashed(f"the {self.label} worker holding this model has crashed since it was loaded")
        if generation is not None and self.proc.poll() is not None:
            raise RuntimeCrashed(self._crash_message())
        reply, out = self._exchange(header, arrays)
        if not reply["ok"]:
            if self.proc.poll() is not None or str(reply.get("error", "")).startswith("could not start"):
                self.proc.kill()
                self.proc = None
            raise JsRuntimeError(f"{self.label} refused the model: {short_error(str(reply.get('error')))}")
        return reply, out

    def _crash_message(self):
        code, lines = self._ended()
        self.generation += 1  # the models it held are gone
        return f"{self.label} crashed (exit status {code}): {(lines[-1] if lines else 'no message')[:300]}"

    def version(self):
        reply, _ = self.request({"op": "version"})
        return reply["version"]

    def load(self, model, threads=None, disabled_optimizers=()):
        with tempfile.TemporaryDirectory() as tmp:  # the worker has read the file when it answers
            path = os.path.abspath(saved_to(model, tmp))
            reply, _ = self.request({"op": "load", "path": path, "threads": int(threads or 0),
                                     "disable": [str(o) for o in disabled_optimizers]})
        return _JsModel(self, reply["id"])

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.generation += 1


class _JsModel(_TractModel):
    """A model loaded in a JS worker: call it with feeds; dropped there when collected."""

    def __call__(self, feeds):
        _, outputs = self.worker.request({"op": "run", "id": self.id},
                                         [(name, np.asarray(value)) for name, value in feeds.items()],
                                         generation=self.generation)
        return outputs


_WORKERS = {}


def worker(backend, label):
    """This process's worker for `backend` ("node" or "web")."""
    if backend not in _WORKERS:
        _WORKERS[backend] = JsWorker(backend, label)
    return _WORKERS[backend]
