"""The unrolled form: a recurrent layer as its cell's step emitted once per timestep in the
main graph, for input shapes fixed at export (`fixed_shape`), with no `Scan`, `Loop` or
`If` anywhere: for converters and runtimes without control flow (onnx2tf -> TensorFlow
Lite: docs/onnx2tf.md).

The step is the loop form's own (loop.build_step: the cell's `step` from
reference/recurrent through OnnxOps, with the mask rule and the states the Scan body
has); `wrap_unrolled` takes the place of the Scan: it copies the body's nodes into the
main graph once per step, wiring step t's state inputs to step t-1's state outputs and
its per-step inputs to step t of the projection (made time-major and cut by one Split
per input). Whatever the loop body computes, the unrolled form computes, node for node;
a mask rule or state the body gains is unrolled with it.

Fixed shapes also make the zero initial states constants (Graph.fixed_batch) and leave
the empty-input guards out (export.build): no input can be empty.

`auto` never chooses this form: in onnxruntime it was not faster than the Scan it
replaces (`rnn2onnx bench --unrolled`, (h): unrolled/Scan 0.95-1.49 at batch 1 with one
thread, T 20 and 50, 32->64, every cell masked and SimpleDeepRNN/JZS3 unmasked; 0.8-1.6
at batch 32, 64->128, on a busy 2-core machine). A step's nodes cost what they cost in
a Scan body; the unrolled graph saves the Scan's per-iteration overhead and adds its
own per-node overhead of a much larger graph.
"""
import numpy as np
import onnx
from onnx import helper

from ..errors import ExportError
from ..passes import fuse_gemm_nodes
from .loop import emit_loop
from .native import NATIVE, why_not_native

FORM = "unrolled"


def inferred_shapes(nodes, inputs, initializers, outputs, opset):
    """{tensor name: tuple of dims (None where unknown)} of `outputs` (names) of a graph
    made of `nodes`, `inputs` and `initializers`, by ONNX shape inference. Weights go in
    as typed inputs, not data: the probe stays small (a model's weights may pass
    protobuf's 2 GiB) and shapes follow from their dims; small tensors (shape arguments,
    indices) keep their values, which data propagation reads."""
    small = [t for t in initializers if np.prod(t.dims) <= 64]
    weights = [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
               for t in initializers if np.prod(t.dims) > 64]
    graph = helper.make_graph(nodes, "probe", list(inputs) + weights,
                              [helper.make_empty_tensor_value_info(o) for o in outputs], initializer=small)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.output):
        if value.name in outputs and value.type.tensor_type.HasField("shape"):
            shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                       for d in value.type.tensor_type.shape.dim)
    return shapes


def static_shape(g, tensor):
    """The shape of `tensor` of the main graph `g` as shape inference gives it from the
    graph's (fixed) input shapes, or None."""
    return inferred_shapes(g.nodes, g.inputs, g.initializers, [tensor], g.opset).get(tensor)


def time_steps(g, x, name):
    """The number of timesteps of `x` (batch, time, ...), known from the fixed input shapes."""
    shape = static_shape(g, x)
    if shape is None or len(shape) < 2 or shape[1] is None:
        raise ExportError(f"layer {name}: the number of timesteps of its input does not follow from the fixed "
                          "input shapes, so it cannot be unrolled")
    return shape[1]


def wrap_unrolled(step, g, name, initial, step_inputs):
    """The step's body copied into `g` once per timestep (loop.WRAPPERS' signature): (final
    states, per-step outputs (batch, time, k), time axis 1)."""
    steps = time_steps(g, step_inputs[0], name)
    batch = g.fixed_batch
    # each per-step input (rows, time, w) as `steps` (rows, w) slices: time-major rows,
    # then one Split (3 nodes per input, where a Gather per step would be `steps` nodes).
    # rows is the batch, or 1 for a gate of the whole batch (Keras 0.3.0's skip rule),
    # which the step broadcasts as the Scan's body does
    shapes = inferred_shapes(g.nodes, g.inputs, g.initializers, list(step_inputs), g.opset)  # one inference
    slices = []
    for full, width in zip(step_inputs, step.step_in_widths):
        shape = shapes.get(full)
        rows = shape[0] if shape and shape[0] is not None else batch
        flat = g.node("Reshape", [g.node("Transpose", [full], f"{name}/time_major", perm=[1, 0, 2]),
                                  g.const([steps * rows, width])], f"{name}/time_major")
        slices.append(g.node("Split", [flat, g.const([rows] * steps)], f"{name}/steps", outputs=steps, axis=0)
                      if steps > 1 else [flat])
    # the body as the late passes leave a loop body (its marked products Gemms: passes.fuse_gemm)
    fuse_gemm_nodes(step.body.nodes, g.root.fusable, g.unique)
    states, outputs = list(initial), []
    for t in range(steps):
        names = dict(zip(step.state_in, states))
        for sliced, parts in zip(step.step_in, slices):
            names[sliced] = parts[t]
        for node in step.body.nodes:
            if node.op_type == "Identity":  # distinct names for a Scan's outputs; nothing to compute here
                names[node.output[0]] = names.get(node.input[0], node.input[0])
                continue
            op = node.op_type
            if op == "Gemm" and g.dtype == np.float64 and len(node.input) == 2 and not node.attribute:
                # the same product as a MatMul: onnx2tf computes a float64 Gemm less exactly
                # (SimpleDeepRNN's h·U_lags: errors of 2e-9-8e-9 through TFLite, 1e-16 as MatMul)
                op = "MatMul"
            outs = g.copy_node(node, f"{node.name}/t{t}", [names.get(i, i) for i in node.input],
                               [f"{out}/t{t}" if out else "" for out in node.output], op=op)
            names.update(zip(node.output, outs))
        states = [names.get(s, s) for s in step.state_out]
        outputs.append([names.get(h, h) for h in step.step_out])
    per_step = []
    for i in range(len(step.step_out)):
        hs = g.node("Concat", [out[i] for out in outputs], f"{name}/sequence", axis=-1)  # (batch, time*k)
        per_step.append(g.node("Reshape", [hs, g.const([-1, steps, step.output_dim])], f"{name}/sequence"))
    return states, per_step, 1


def emit_unrolled(layer, ctx, x, mask, with_states=False, initial=None):
    """The layer's loop form with the Scan replaced by `wrap_unrolled` (a go_backwards
    layer's input and mask arrive reversed: emitters/recurrent.py)."""
    return emit_loop(layer, ctx, x, mask, wrap=wrap_unrolled, with_states=with_states, initial=initial)


# ---------------------------------------------------------------------------------------
# the fixed input shapes (export's `fixed_shape`)


def has_time(port):
    """Whether the input `port` (structure.Port) is a sequence: token ids, or (time, features)."""
    return port.ids or len(port.shape) == 2


def resolve_fixed_shape(ports, fixed_shape):
    """{input name: (batch, time or None)} from `fixed_shape`: one (batch, time) for every
    input, or {input name: (batch, time)} naming each input (one batch for all). An input
    without a time axis takes the batch only; one of a fixed length must be given it."""
    names = [p.name for p in ports]
    if isinstance(fixed_shape, dict):
        unknown = sorted(set(fixed_shape) - set(names))
        missing = [n for n in names if n not in fixed_shape]
        if unknown or missing:
            raise ExportError(f"fixed_shape names the model's inputs {', '.join(names)}; "
                              + (f"unknown: {', '.join(map(str, unknown))}" if unknown else
                                 f"missing: {', '.join(missing)}"))
        given = [fixed_shape[n] for n in names]
    else:
        given = [fixed_shape] * len(ports)
    resolved = {}
    for port, dims in zip(ports, given):
        dims = _pair(dims, port.name)
        batch, time = dims
        if not has_time(port):
            time = None
        elif port.length is not None and time != port.length:
            raise ExportError(f"input {port.name} takes sequences of exactly {port.length} steps, "
                              f"not the {time} fixed_shape gives")
        resolved[port.name] = (batch, time)
    if len({batch for batch, _ in resolved.values()}) > 1:
        raise ExportError("fixed_shape must give every input the same batch size")
    return resolved


def _pair(dims, name):
    try:
        batch, time = (int(d) if isinstance(d, (int, np.integer)) else None for d in dims)
    except (TypeError, ValueError):
        batch = time = None
    if batch is None or time is None or batch < 1 or time < 1:
        raise ExportError(f"fixed_shape for input {name} must be (batch, time), two positive integers, "
                          f"got {dims!r}"[:200])
    return batch, time


def fixed_dims(dims, fixed):
    """Graph input dims ['batch', time, ...] with the fixed (batch, time) put in."""
    batch, time = fixed
    return [batch] + ([time] + list(dims[1:]) if time is not None else list(dims))


def concrete_outputs(proto):
    """Give the outputs of a fixed-shape `proto` (an onnx.ModelProto, changed in place)
    the concrete shapes shape inference finds (converters read them)."""
    graph = proto.graph
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    shapes = inferred_shapes(graph.node, graph.input, graph.initializer, [o.name for o in graph.output], opset)
    for output in graph.output:
        dims = shapes.get(output.name)
        if dims is not None and None not in dims:
            shape = output.type.tensor_type.shape
            del shape.dim[:]
            for d in dims:
                shape.dim.add().dim_value = d


def fixed_input_shapes(proto):
    """{input name: its shape} of a file whose inputs all have concrete shapes, or None."""
    initializers = {t.name for t in proto.graph.initializer}
    fixed = {}
    for value in proto.graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        if not dims or not all(d.HasField("dim_value") for d in dims):
            return None
        fixed[value.name] = tuple(d.dim_value for d in dims)
    return fixed


def unrolled_form(layer, ctx, masked):
    """(form, reason) under strategy='unrolled': the native op where it is exact for an
    unmasked layer (it has no control flow), the unrolled step otherwise."""
    reason = why_not_native(layer, ctx.target)
    if reason is None and ctx.g.dtype != "float32":
        reason = "onnxruntime's native LSTM/GRU/RNN kernels are float32-only"
    if reason is None and masked:
        reason = "a mask reaches it (the masked native forms compute indices from the mask at run time)"
    if reason is None:
        return "native", f"exact as ONNX {NATIVE[type(layer).__name__][0]} (no control flow; zero initial states given)"
    return FORM, reason


