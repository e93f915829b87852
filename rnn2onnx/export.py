"""export(): a reference Sequential -> a validated onnx.ModelProto (and file)."""
import json
import os
import shutil
import tempfile

import numpy as np
import onnx

from reference.errors import ConfigError
from reference.files import check_output_path, temporary_beside

from . import __version__
from .emitters import EMITTERS
from .emitters.loop import LOOP_OPS
from .errors import ExportError
from .graph import Graph, finish_model
from .passes import guard_empty

STRATEGIES = ("auto", "loop", "native")
#: rewrites of the finished graph per target, in order (runtime quirks; see rnn2onnx/passes.py).
#: The portable target has no empty-input guard: tract 0.23 miscomputes a Scan inside an
#: `If` whose per-step output is read at its last step (it returns the masked state
#: instead: errors up to 0.6), and portable files must agree on every runtime.
LATE_PASSES = {"onnxruntime": (guard_empty,), "portable": ()}
TARGETS = ("onnxruntime", "portable")
MIN_OPSET, DEFAULT_OPSET = 13, 21
EXTERNAL_DATA_THRESHOLD = 1 << 30  # protobuf cannot serialize 2 GiB; keep well below


def max_opset():
    """The newest default-domain opset both onnx and onnxruntime know."""
    import onnxruntime

    known = onnx.defs.onnx_opset_version()
    try:  # onnxruntime publishes no table; ask it once with a trivial graph per opset
        for opset in range(known, MIN_OPSET - 1, -1):
            if _runs_opset(onnxruntime, opset):
                return opset
    except Exception:  # pragma: no cover - a broken runtime install
        pass
    return DEFAULT_OPSET


_MAX_OPSET = None


def _runs_opset(onnxruntime, opset):
    from onnx import helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    try:
        onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return True
    except Exception:
        return False


def supported_opsets():
    global _MAX_OPSET
    if _MAX_OPSET is None:
        _MAX_OPSET = max_opset()
    return range(MIN_OPSET, _MAX_OPSET + 1)


class Context:
    """What the emitters share: the graph, the options, and the form chosen per layer."""

    def __init__(self, g, strategy, target, loop_op="scan"):
        self.g, self.strategy, self.target, self.loop_op = g, strategy, target, loop_op
        self.forms = {}


def _check_options(model, opset, strategy, target, loop_op="scan"):
    if strategy not in STRATEGIES:
        raise ExportError(f"unknown strategy {strategy!r}; accepted: {', '.join(STRATEGIES)}")
    if loop_op not in LOOP_OPS:
        raise ExportError(f"unknown loop_op {loop_op!r}; accepted: {', '.join(LOOP_OPS)}")
    if target not in TARGETS:
        raise ExportError(f"unknown target {target!r}; accepted: {', '.join(TARGETS)}")
    opsets = supported_opsets()
    opset = DEFAULT_OPSET if opset is None else opset
    if not isinstance(opset, (int, np.integer)) or opset not in opsets:
        raise ExportError(f"opset {opset!r} is not supported; use an opset from {opsets.start} to {opsets.stop - 1}")
    if type(model).__name__ == "Graph":
        raise ExportError("Graph models cannot be exported yet (issue 9): the reference predicts them, "
                          "but the exporter writes one-input chains only")
    if not getattr(model, "layers", None):
        raise ExportError("the model has no layers")
    if type(model.layers[0]).__name__ == "Merge":
        raise ExportError("Merge models cannot be exported yet (issue 9): the reference predicts them, "
                          "but the exporter writes one-input chains only")
    if not all(layer.built for layer in model.layers):
        raise ExportError("the model's input shape is unknown: give the first layer input_dim or "
                          "input_shape, or call predict once before exporting")
    return int(opset)


def build(model, opset=None, strategy="auto", target="onnxruntime", loop_op="scan", passes=None,
          shapes_only=False):
    """(ModelProto, {layer name: (form, reason)}) without validation or file output.
    `loop_op`: the ONNX op the loop form is wrapped in, "scan" (faster) or "loop".
    `passes`: the late rewrites applied to the finished graph (default: the target's
    LATE_PASSES; benchmarks pass () to measure what they cost). shapes_only: no weight is stored (plan())."""
    opset = _check_options(model, opset, strategy, target, loop_op)
    g = Graph("rnn2onnx", model.dtype, opset, target=target, shapes_only=shapes_only)
    ctx = Context(g, strategy, target, loop_op)
    first = model.layers[0]
    input_dims, output_dims = io_dims(model)
    if type(first).__name__ == "Embedding":
        x = g.add_input("input", ["batch"] + input_dims, elem=onnx.TensorProto.INT64)
    else:
        x = g.add_input("input", ["batch"] + input_dims)
    mask = None
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in EMITTERS:
            raise ExportError(f"layer {layer.name} ({kind}) has no ONNX emitter; "
                              f"exportable layers: {', '.join(sorted(EMITTERS))}")
        before = len(g.nodes)
        x, mask = EMITTERS[kind](layer, ctx, x, mask)
        if layer.name not in ctx.forms:
            ops = sorted({n.op_type for n in g.nodes[before:]})
            ctx.forms[layer.name] = ("+".join(ops) or "nothing (identity)", "")
    _name_output(g, x)
    g.add_output("output", ["batch"] + output_dims)
    metadata = {
        "producer": f"rnn2onnx {__version__}",
        "rnn2onnx.dtype": str(model.dtype),
        "rnn2onnx.strategy": strategy,
        "rnn2onnx.target": target,
        "rnn2onnx.loop_op": loop_op,
    }
    for layer in model.layers:
        config = dict(layer.get_config(), onnx_form=ctx.forms[layer.name][0])
        metadata[f"rnn2onnx.layer.{layer.name}"] = json.dumps(config, default=str)
    proto = finish_model(g, opset, metadata)
    proto.producer_version = __version__
    for rewrite in LATE_PASSES[target] if passes is None else passes:
        rewrite(proto)
    return proto, ctx.forms


def io_dims(model):
    """Per-sample dims of the graph's input and output ("time" for a dynamic axis).

    The input's time axis is dynamic, even when the model was built with an input_length,
    as long as every layer takes the same per-sample shape whatever the sequence length
    (only a sequence's first axis, time, may change). A layer that needs the length
    fixes it to the built one: Flatten of a sequence, Reshape of one (`needs_length`),
    Permute moving time into the features. Output axes that follow the input's time are
    "time"; the others (RepeatVector's n, Reshape's dims) are concrete."""
    layers = model.layers
    embedding = type(layers[0]).__name__ == "Embedding"
    built = tuple(layers[0].input_shape)
    if embedding or len(built) >= 2:
        free = (None,) + built[1:]
        shape = free
        try:
            for index, layer in enumerate(layers):
                had = tuple(layer.input_shape)
                time_axis = index == 0 and embedding or len(had) >= 2
                if len(shape) != len(had) or any(s != h for i, (s, h) in enumerate(zip(shape, had))
                                                 if not (i == 0 and time_axis and s is None)):
                    raise ConfigError("the layer's per-sample shape depends on the sequence length")
                if getattr(layer, "needs_length", False) and None in shape:
                    raise ConfigError("the layer needs the sequence length")
                shape = layer.output_shape(shape)
        except ConfigError:
            pass
        else:
            return _named(free), _named(shape)
    return _named(built), _named(layers[-1].output_shape(layers[-1].input_shape))


def _named(shape):
    return ["time" if s is None else int(s) for s in shape]


def _name_output(g, tensor):
    """Make the last tensor the graph output 'output' (an Identity only if it is the input)."""
    producers = [n for n in g.nodes if tensor in n.output]
    if not producers:
        g.node("Identity", [tensor], "output")
        g.nodes[-1].output[0] = "output"
        return
    for node in g.nodes:
        for i, name in enumerate(node.output):
            if name == tensor:
                node.output[i] = "output"
        for i, name in enumerate(node.input):
            if name == tensor:
                node.input[i] = "output"


def plan(model, strategy="auto", target="onnxruntime", opset=None, loop_op="scan"):
    """[(layer name, ONNX form, reason)] — what each layer becomes, without validating."""
    _, forms = build(model, opset=opset, strategy=strategy, target=target, loop_op=loop_op, shapes_only=True)
    return [(layer.name, *forms[layer.name]) for layer in model.layers]


def export(model, path=None, *, opset=None, strategy="auto", target="onnxruntime", loop_op="scan",
           validate=True):
    """Compile `model` to ONNX; validate it against `model.predict` in onnxruntime; write
    it to `path` (atomically, only after validation passed). Returns the ModelProto.
    `loop_op="loop"` wraps the loop form in ONNX `Loop` instead of `Scan`, for consumers
    that lack Scan (slower: see `rnn2onnx bench`)."""
    proto, _ = build(model, opset=opset, strategy=strategy, target=target, loop_op=loop_op)
    large = sum(t.ByteSize() for t in proto.graph.initializer) > EXTERNAL_DATA_THRESHOLD
    if large and path is None:
        raise ExportError("the model is larger than 1 GiB: give a path so its weights can be stored as external data")
    if not large:
        onnx.checker.check_model(proto, full_check=True)
    if path is None:
        if validate:
            from .validate import validate as run_validation
            run_validation(model, proto)
        return proto
    write_model(proto, path, large=large, check=(model if validate else None))
    return proto


def write_model(proto, path, large=False, check=None, inputs=()):
    """Write into a temporary folder beside `path`, validate there if `check` is a model,
    then rename into place; nothing is left behind on failure. `inputs`: files the
    output (or its .data file) must not be (reference.files.check_output_path)."""
    path = os.fspath(path)
    check_output_path(path, inputs)
    directory = os.path.dirname(os.path.abspath(path))
    data_name = os.path.basename(path) + ".data"
    staging = temporary_beside(path, lambda d: tempfile.mkdtemp(prefix=".rnn2onnx-", dir=d))
    try:
        tmp = os.path.join(staging, "model.onnx")
        if large:
            onnx.save_model(proto, tmp, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data_name, size_threshold=1024)
            onnx.checker.check_model(tmp, full_check=True)
        else:
            with open(tmp, "wb") as f:
                f.write(proto.SerializeToString())
        if check is not None:
            from .validate import validate as run_validation
            run_validation(check, tmp)
        if large:
            os.replace(os.path.join(staging, data_name), os.path.join(directory, data_name))
        os.replace(tmp, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
