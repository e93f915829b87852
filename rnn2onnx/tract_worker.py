"""The runtime worker process, and its parent side (TractWorker, used by runtimes.Tract
and runtimes.load_untrusted).

Reads requests from stdin and answers on stdout (length-prefixed JSON headers and .npy
arrays, see write_message); anything native code prints goes to stderr. A tract
panic aborts this process only; the parent reports it as a crash. The same process runs
a file from elsewhere on any runtime under a wall-clock and a memory limit (the parent
kills it when the time is up; the memory limit is its own RLIMIT_DATA).

  {"op": "load", "path", "symbolic", "copy", "runtime"} -> {"id"}   the file (copied
                     first when the caller's is temporary); tract types it per feed shape
                     (concrete) or once with symbols B, T (symbolic); another runtime
                     (runtime: its name; default tract) loads it as runtimes.load does
  {"op": "run", "id", "inputs": [names]} + arrays -> the outputs
  {"op": "drop", "id"}                             forget a model (no answer)
"""
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

from .runtimes import RuntimeCrashed, RuntimeRefused, RuntimeTimeout, TractError, is_proto, saved_to

TRACT_DTYPES = {"int64": "i64", "int32": "i32", "float32": "f32", "float64": "f64"}


def short_error(exc):
    """tract's error without its backtrace: the first line and the innermost cause."""
    text = str(exc).split("Stack backtrace:")[0].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    causes = [line for line in lines[1:] if line != "Caused by:"]
    last = causes[-1].split(": ", 1)[-1] if causes else ""
    return f"{lines[0]}: {last}" if last else lines[0]


def runtime_message(exc):
    """A C++ runtime's error as one bounded line: its own words, without the source
    locations, signatures and "Exception from ..." chains (onnxruntime's load failure of
    an ir_version 999 file was 484 characters, OpenVINO's are longer)."""
    text = str(exc)
    text = re.sub(r"\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = re.sub(r"Load model from .*? failed:", "", text)
    text = re.sub(r"\S+\.(?:cc|cpp|hpp|h):\d+:?(?: [\w:~<>]+\((?:[^()]|\([^()]*\))*\))?", "", text)
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith("Exception from")]
    return " ".join((lines[-1] if lines else type(exc).__name__).split())[:300]


class Loaded:
    """A model file, typed (tract's `into_model` consumes the parsed model) per input
    shape, or once with symbols; kept as this process's own copy of the file."""

    def __init__(self, path, symbolic, copy_to=None):
        import tract

        self.path, self.copied = path, copy_to is not None
        if self.copied:  # the caller's file is temporary
            shutil.copyfile(path, copy_to)
            self.path = copy_to
        self.tract, self.symbolic, self.runnables = tract, symbolic, {}
        tract.onnx().load(self.path)  # parse errors surface at load

    def drop(self):
        if self.copied:
            os.unlink(self.path)

    def run(self, names, arrays):
        return [t.to_numpy() for t in self.runnable(arrays).run(list(arrays))]

    def runnable(self, arrays):
        key = tuple((a.shape, a.dtype.str) for a in arrays)
        if self.symbolic:
            key = tuple((a.ndim, a.dtype.str) for a in arrays)
        if key not in self.runnables:
            model = self.tract.onnx().load(self.path)
            for i, a in enumerate(arrays):
                dims = [str(d) for d in a.shape]
                if self.symbolic:
                    dims[:2] = ["B", "T"][:len(dims)]
                model.set_input_fact(i, ",".join(dims + [TRACT_DTYPES[str(a.dtype)]]))
            self.runnables[key] = model.into_model().into_runnable()
        return self.runnables[key]


class LoadedElsewhere:
    """A file loaded on another runtime (onnxruntime, OpenVINO) in this process."""

    def __init__(self, runtime, path, copy_to=None):
        from .runtimes import get

        self.path, self.copied = path, copy_to is not None
        if self.copied:
            shutil.copyfile(path, copy_to)
            self.path = copy_to
        self.fn = get(runtime)()._load(self.path)

    drop = Loaded.drop

    def run(self, names, arrays):
        return [np.asarray(a) for a in self.fn(dict(zip(names, arrays)))]


def main(preload=None):
    """`preload`: a runtime's module, imported before a first message says the worker is
    ready (a time-limited worker's limit starts then, not while Python starts)."""
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # native prints must not corrupt the protocol stream
    stdin = sys.stdin.buffer
    models = {}
    if preload is not None:
        import importlib

        try:
            importlib.import_module(preload)
        except ImportError:  # reported by the load that needs it
            pass
        write_message(protocol, {"ok": True, "ready": True})
    with tempfile.TemporaryDirectory(prefix="rnn2onnx-tract-") as folder:
        return serve(stdin, protocol, models, folder)


def serve(stdin, protocol, models, folder):
    next_id = 0
    while True:
        try:
            request, arrays = read_message(stdin.read)
        except EOFError:
            return 0
        op = request["op"]
        try:
            if op == "drop":
                if request["id"] in models:
                    models.pop(request["id"]).drop()
                continue
            if op == "load":
                copy_to = os.path.join(folder, f"{next_id}.onnx") if request["copy"] else None
                runtime = request.get("runtime", "tract")
                models[next_id] = (Loaded(request["path"], request["symbolic"], copy_to) if runtime == "tract"
                                   else LoadedElsewhere(runtime, request["path"], copy_to))
                write_message(protocol, {"ok": True, "id": next_id})
                next_id += 1
            elif op == "run":
                outputs = models[request["id"]].run(request["inputs"], arrays)
                write_message(protocol, {"ok": True}, outputs)
            else:
                write_message(protocol, {"ok": False, "error": f"unknown request {op!r}"})
        except MemoryError:
            write_message(protocol, {"ok": False, "error": "out of memory", "memory": True})
        except Exception as exc:  # noqa: BLE001 - every error goes back as one message
            tract = request.get("runtime", "tract") == "tract" if op == "load" else \
                isinstance(models.get(request.get("id")), Loaded)
            message = short_error(exc) if tract else runtime_message(exc)
            write_message(protocol, {"ok": False, "error": message,
                                     "memory": "bad_alloc" in str(exc) or "Failed to allocate" in str(exc)})


# ---------------------------------------------------------------------------------------
# the parent side: one worker process per parent process, started on first use, restarted
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


class TractWorker:
    """The parent side of one worker process. `runtime`: what it runs (tract: the shared
    worker, parent_worker(); another: see runtimes.load_untrusted), also its `label` in
    errors (js_worker.JsWorker drives the JavaScript runtimes the same way, with its own
    command and wire format). `time_limit` (s): the time it may take to answer, every
    request together (its start included; not the time it waits for the next request),
    after which it is killed; `memory_limit` (bytes): its RLIMIT_DATA."""

    TIMEOUT = 600  # seconds one request may take before the worker is deemed hung
    write_message, read_message = staticmethod(write_message), staticmethod(read_message)

    def __init__(self, runtime="tract", time_limit=None, memory_limit=None):
        self.proc, self.log, self.generation = None, None, 0
        self.runtime, self.time_limit, self.memory_limit = runtime, time_limit, memory_limit
        self.label = runtime
        self.spent = 0.0  # seconds spent waiting for its answers
        self.counted = True  # whether waiting now counts against time_limit

    def _start(self):
        self.log = tempfile.TemporaryFile()
        # MALLOC_ARENA_MAX: a thread's malloc arena must not count against the memory limit
        env = dict(os.environ, RUST_BACKTRACE="0", RUST_LIB_BACKTRACE="0", MALLOC_ARENA_MAX="2")
        # this very package, whatever the current directory holds (`-m` would look there first)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        preload = None
        if self.time_limit is not None:
            from .runtimes import get

            preload = get(self.runtime).module
        boot = (f"import sys; sys.path.insert(0, {root!r}); from rnn2onnx.tract_worker import main; "
                f"sys.exit(main({preload!r}))")
        limit = self.memory_limit

        def limits():  # in the child, before it runs anything
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if limit:
                resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        self.proc = subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env,
                                     preexec_fn=limits if limit else None)
        self.generation += 1
        if preload is not None:  # Python's start and the runtime's import are not the file's time
            self.counted = False
            try:
                self.read_message(self._read)
            except EOFError:
                raise RuntimeCrashed(self._crash_message()) from None
            finally:
                self.counted = True

    def _read(self, n):
        fd = self.proc.stdout.fileno()
        limited = self.time_limit is not None and self.counted
        wait = max(0.0, self.time_limit - self.spent) if limited else self.TIMEOUT
        start = time.monotonic()
        ready, _, _ = select.select([fd], [], [], wait)
        if limited:
            self.spent += time.monotonic() - start
        if not ready:
            self.close()
            if limited:
                raise RuntimeTimeout(f"{self.label} did not finish within {self.time_limit:g} s (stopped)")
            raise RuntimeCrashed(f"{self.label} did not answer within {self.TIMEOUT} s (worker killed)")
        return os.read(fd, n)

    def close(self):
        """Stop the worker (killed: it may be busy for days)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.generation += 1

    def _exchange(self, header, arrays):
        """The reply to one request (the worker started first if it is not running); a
        dead worker is a RuntimeCrashed."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            self.write_message(self.proc.stdin, header, arrays)
            return self.read_message(self._read)
        except (EOFError, BrokenPipeError, OSError):
            raise RuntimeCrashed(self._crash_message()) from None

    def request(self, header, arrays=()):
        reply, out = self._exchange(header, arrays)
        if not reply["ok"]:
            if reply.get("memory") and self.memory_limit:
                raise RuntimeRefused(f"{self.label} needed more than the {self.memory_limit >> 20} MB allowed "
                                     f"({reply['error'][:200]})")
            if self.runtime == "tract":
                raise TractError(f"tract refused the model: {reply['error']}")
            raise RuntimeRefused(f"{self.label} refused the model: {reply['error']}")
        return reply, out

    def _ended(self):
        """(exit status, stderr lines) of the worker that has just died; forgets it."""
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.log.seek(0)
        lines = [line.strip() for line in self.log.read().decode(errors="replace").splitlines() if line.strip()]
        self.proc, self.log = None, None
        return code, lines

    def _crash_message(self):
        code, lines = self._ended()
        panics = [line for line in lines if "panicked at" in line or line.startswith("fatal")]
        detail = panics[0] if panics else (lines[-1] if lines else "no message")
        detail = re.sub(r"thread '[^']*' \(\d+\) ", "", detail)  # the thread id differs per run
        if self.memory_limit and ("bad_alloc" in detail or "MemoryError" in detail or "memory" in detail.lower()):
            return f"{self.label} needed more than the {self.memory_limit >> 20} MB allowed (exit status {code})"
        return f"{self.label} crashed (exit status {code}): {detail[:300]}"

    def load(self, model, symbolic=False):
        with tempfile.TemporaryDirectory() as tmp:
            # a file path is read in place (its external data beside it); a proto's
            # temporary file is copied by the worker
            path = os.path.abspath(saved_to(model, tmp))
            reply, _ = self.request({"op": "load", "path": path, "symbolic": symbolic, "copy": is_proto(model),
                                     "runtime": self.runtime})
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

    def close(self):
        """Stop the worker: for a worker of its own (runtimes.load_untrusted)."""
        self.worker.close()

    def __del__(self):
        try:
            if self.generation == self.worker.generation and self.worker.proc.poll() is None:
                self.worker.write_message(self.worker.proc.stdin, {"op": "drop", "id": self.id})
        except Exception:  # noqa: BLE001 - best effort (interpreter shutdown, dead worker)
            pass


_WORKER = None


def parent_worker():
    global _WORKER
    if _WORKER is None:
        _WORKER = TractWorker()
    return _WORKER


if __name__ == "__main__":
    sys.exit(main())
