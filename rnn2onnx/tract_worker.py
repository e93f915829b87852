"""The tract worker: `python -m rnn2onnx.tract_worker`, driven by rnn2onnx.runtimes.

Reads requests from stdin and answers on stdout (length-prefixed JSON headers and .npy
arrays, see runtimes.write_message); anything native code prints goes to stderr. A tract
panic aborts this process only; the parent reports it as a crash.

  {"op": "load", "path", "symbolic", "copy"} -> {"id"}   the file (copied first when the
                     caller's is temporary), typed per feed shape (concrete) or once
                     with symbols B, T (symbolic)
  {"op": "run", "id", "inputs": [names]} + arrays -> the outputs
  {"op": "drop", "id"}                             forget a model (no answer)
"""
import os
import shutil
import sys
import tempfile

from .runtimes import read_message, write_message

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


def main():
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # native prints must not corrupt the protocol stream
    stdin = sys.stdin.buffer
    models, next_id = {}, 0
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
                models[next_id] = Loaded(request["path"], request["symbolic"], copy_to)
                write_message(protocol, {"ok": True, "id": next_id})
                next_id += 1
            elif op == "run":
                runnable = models[request["id"]].runnable(arrays)
                outputs = [t.to_numpy() for t in runnable.run(list(arrays))]
                write_message(protocol, {"ok": True}, outputs)
            else:
                write_message(protocol, {"ok": False, "error": f"unknown request {op!r}"})
        except Exception as exc:  # noqa: BLE001 - every error goes back as one message
            write_message(protocol, {"ok": False, "error": short_error(exc)})


if __name__ == "__main__":
    sys.exit(main())
