"""export(): a reference model (a Sequential, one starting with a Merge, a Graph) -> a validated
onnx.ModelProto (and file). rnn2onnx/structure.py walks the model."""
import json
import os
import shutil
import tempfile

import numpy as np
import onnx

from reference.files import check_output_path, replace_output, temporary_beside
from reference.untrusted import quote

from . import __version__
from .emitters.loop import LOOP_OPS
from .errors import ExportError
from .graph import OnnxGraph, finish_model
from .emitters.unrolled import FORM as UNROLLED, concrete_outputs, resolve_fixed_shape
from .passes import fuse_gemm, weights_into_loops
from .structure import emit_model, is_graph, model_inputs
from .targets import TARGETS

STRATEGIES = ("auto", "loop", "native", "unrolled")
MIN_OPSET, DEFAULT_OPSET = 13, 21
EXTERNAL_DATA_THRESHOLD = 1 << 30  # protobuf cannot serialize 2 GiB; keep well below
MAX_NAME_CHARS = 256  # of a Graph's input, node or output name; Keras's own names are ~25 characters
EXTERNAL_TENSOR_BYTES = 1024  # with external data, tensors of at least this many bytes go to the .data file


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


def opset_probe(opset):
    """A trivial model of `opset` (and the IR version our files of that opset get): a
    runtime that loads it reads that opset."""
    from onnx import helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    return model


def _runs_opset(onnxruntime, opset):
    try:
        onnxruntime.InferenceSession(opset_probe(opset).SerializeToString(), providers=["CPUExecutionProvider"])
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

    def __init__(self, g, strategy, loop_op="scan", fixed=None):
        self.g, self.strategy, self.loop_op = g, strategy, loop_op
        self.fixed = fixed  # {input name: (batch, time or None)} (fixed_shape), or None: dynamic
        self.forms = {}    # layer key -> (form, reason), in the order the walk emits them
        self.configs = {}  # layer key -> its config (for the file's metadata)
        self.key = None    # the key of the layer being emitted (a path inside a container)

    @property
    def target(self):
        """The target's record (rnn2onnx/targets.py), which the graph holds."""
        return self.g.target


def _check_options(model, opset, strategy, target, loop_op="scan", fixed_shape=None):
    if strategy not in STRATEGIES:
        raise ExportError(f"unknown strategy {strategy!r}; accepted: {', '.join(STRATEGIES)}")
    if loop_op not in LOOP_OPS:
        raise ExportError(f"unknown loop_op {loop_op!r}; accepted: {', '.join(LOOP_OPS)}")
    if not isinstance(target, str) or target not in TARGETS:
        raise ExportError(f"unknown target {quote(target)}; accepted: {', '.join(TARGETS)}")
    opsets = supported_opsets()
    opset = DEFAULT_OPSET if opset is None else opset
    if not isinstance(opset, (int, np.integer)) or opset not in opsets:
        raise ExportError(f"opset {opset!r} is not supported; use an opset from {opsets.start} to {opsets.stop - 1}")
    if not getattr(model, "layers", None):
        raise ExportError("the model has no layers")
    if not all(layer.built for layer in model.layers):
        raise ExportError("the model's input shape is unknown: give the first layer input_dim or "
                          "input_shape, or call predict once before exporting")
    check_names(model)
    if strategy == UNROLLED and fixed_shape is None:
        raise ExportError("strategy='unrolled' needs the input shape fixed: give fixed_shape=(batch, time)")
    fixed = None if fixed_shape is None else resolve_fixed_shape(model_inputs(model), fixed_shape)
    return int(opset), fixed


def check_names(model):
    """Refuse a Graph whose input, node or output names (from its config) are longer than
    MAX_NAME_CHARS: each is written into the names of many ONNX nodes and values (a name of
    a million characters made a 156 MB file)."""
    if not is_graph(model):  # a Sequential's layer names are its own (lstm_1, merge_1/branch_2/…)
        return
    for kind, names in (("input", model.input_order), ("node", model.nodes), ("output", model.output_order)):
        for name in names:
            if len(name) > MAX_NAME_CHARS:
                raise ExportError(f"the Graph's {kind} name {quote(name)} is {len(name)} characters long; "
                                  f"names of more than {MAX_NAME_CHARS} characters are not exported")


def build(model, opset=None, strategy="auto", target="onnxruntime", loop_op="scan", passes=None,
          shapes_only=False, fixed_shape=None):
    """(ModelProto, {layer name: (form, reason)}) without validation or file output.
    `loop_op`: the ONNX op the loop form is wrapped in, "scan" (faster) or "loop".
    `passes`: the late rewrites applied to the finished graph (default: the target's
    late_passes, rnn2onnx/targets.py; benchmarks pass () to measure what they cost); passes.fuse_gemm
    runs first whatever `passes` says (it completes the op set's forms: it guards nothing).
    shapes_only: no weight is stored (plan()).
    `fixed_shape`: (batch, time) of every input, or {input name: (batch, time)}: the file
    takes only that shape (and needs no empty-input guard); see export()."""
    opset, fixed = _check_options(model, opset, strategy, target, loop_op, fixed_shape)
    batch = None if fixed is None else next(iter(fixed.values()))[0]
    g = OnnxGraph("rnn2onnx", model.dtype, opset, target=TARGETS[target], shapes_only=shapes_only,
                  fixed_batch=batch)
    ctx = Context(g, strategy, loop_op, fixed)
    emit_model(model, ctx)
    metadata = {
        "producer": f"rnn2onnx {__version__}",
        "rnn2onnx.dtype": str(model.dtype),
        "rnn2onnx.strategy": strategy,
        "rnn2onnx.target": target,
        "rnn2onnx.loop_op": loop_op,
    }
    if fixed is not None:
        metadata["rnn2onnx.fixed_shape"] = json.dumps(fixed)
    for key, (form, _) in ctx.forms.items():
        config = dict(ctx.configs[key], onnx_form=form)
        metadata[f"rnn2onnx.layer.{key}"] = json.dumps(config, default=str)
    proto = finish_model(g, opset, metadata)
    fuse_gemm(proto, g.fusable)
    proto.producer_version = __version__
    if fixed is not None:  # no input can be empty: no guard, and every output's shape is known
        concrete_outputs(proto)
        passes = () if passes is None else passes
    if g.target.weights_into_loops and not shapes_only and initializer_bytes(proto) <= EXTERNAL_DATA_THRESHOLD:
        # (a model large enough for external data keeps its weights in the main graph,
        # where every onnx release's external-data writer finds them)
        weights_into_loops(proto)
    for rewrite in g.target.late_passes if passes is None else passes:
        rewrite(proto)
    return proto, ctx.forms


def initializer_bytes(proto):
    """Bytes of the initializers of `proto`'s graphs, loop bodies and branches included."""
    total, stack = 0, [proto.graph]
    while stack:
        graph = stack.pop()
        total += sum(t.ByteSize() for t in graph.initializer)
        for node in graph.node:
            for attr in node.attribute:
                stack.extend(([attr.g] if attr.HasField("g") else []) + list(attr.graphs))
    return total


def plan(model, strategy="auto", target="onnxruntime", opset=None, loop_op="scan", fixed_shape=None):
    """[(layer key, ONNX form, reason)] — what each layer (and merge) becomes, in the order
    the model is walked, without validating. A layer's key is its name, prefixed inside a
    Merge by the branch it is in (`merge_1/branch_2/gru_1`)."""
    _, forms = build(model, opset=opset, strategy=strategy, target=target, loop_op=loop_op, shapes_only=True,
                     fixed_shape=fixed_shape)
    return [(key, *form) for key, form in forms.items()]


def export(model, path=None, *, opset=None, strategy="auto", target="onnxruntime", loop_op="scan",
           validate=True, fixed_shape=None):
    """Compile `model` (a Sequential, one starting with a Merge, or a Graph) to ONNX;
    validate every output against `model.predict` in onnxruntime; write it to `path`
    (atomically, only after validation passed). Returns the ModelProto.
    `loop_op="loop"` wraps the loop form in ONNX `Loop` instead of `Scan`, for consumers
    that lack Scan (slower: see `rnn2onnx bench`).
    `fixed_shape=(batch, time)` (or {input name: (batch, time)}) fixes the input shapes;
    with `strategy="unrolled"` every recurrent layer is then a native op or its step
    unrolled over the steps, and the graph has no Scan, Loop or If (docs/forms.md)."""
    proto, _ = export_with_report(model, path, opset=opset, strategy=strategy, target=target, loop_op=loop_op,
                                  validate=validate, fixed_shape=fixed_shape)
    return proto


def export_with_report(model, path=None, *, opset=None, strategy="auto", target="onnxruntime", loop_op="scan",
                       validate=True, n=8, inputs=(), fixed_shape=None):
    """export(), also handing back the validation Report (None when not validated) for
    callers that print it (the CLI), so the model is validated once. `n`: generated
    validation samples (with fixed_shape: batches of the fixed shape); `inputs`: files
    the output must not be (check_output_path)."""
    if path is not None:  # refused before any export work
        check_output_path(path, inputs)
    proto, _ = build(model, opset=opset, strategy=strategy, target=target, loop_op=loop_op, fixed_shape=fixed_shape)
    large = initializer_bytes(proto) > EXTERNAL_DATA_THRESHOLD
    if large and path is None:
        raise ExportError("the model is larger than 1 GiB: give a path so its weights can be stored as external data")
    if not large:
        onnx.checker.check_model(proto, full_check=True)
    if path is None:
        report = None
        if validate:
            from .validation import validate as run_validation
            report = run_validation(model, proto, n=n)
        return proto, report
    report = write_model(proto, path, large=large, check=(model if validate else None), n=n, inputs=inputs)
    return proto, report


def write_model(proto, path, large=False, check=None, n=8, inputs=()):
    """Write into a temporary folder beside `path`, validate there (`n` samples) if `check`
    is a model, then rename into place; nothing is left behind on failure. Returns the
    validation Report, or None. `inputs`: files the output (or its .data file) must not
    be (reference.files.check_output_path)."""
    path = os.fspath(path)
    target = check_output_path(path, inputs, companions=(".data",) if large else ())
    directory = os.path.dirname(target)
    data_name = os.path.basename(target) + ".data"
    staging = temporary_beside(path, lambda d: tempfile.mkdtemp(prefix=".rnn2onnx-", dir=d), target)
    try:
        tmp = os.path.join(staging, "model.onnx")
        if large:
            onnx.save_model(proto, tmp, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data_name, size_threshold=EXTERNAL_TENSOR_BYTES)
            onnx.checker.check_model(tmp, full_check=True)
        else:
            with open(tmp, "wb") as f:
                f.write(proto.SerializeToString())
        report = None
        if check is not None:
            from .validation import validate as run_validation
            report = run_validation(check, tmp, n=n, untrusted=False)  # the file it has just written
        if large:
            replace_output(os.path.join(staging, data_name), os.path.join(directory, data_name), path + ".data")
        replace_output(tmp, target, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report
