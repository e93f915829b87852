"""Late rewrite passes over a finished graph: runtime quirks, fixed once for every form.

The pipeline (exporter.build), in order: `fuse_gemm`, always (a product the op set marked
as read by an activation becomes a `Gemm`: it completes the forms and guards nothing, so
`passes=` leaves it in); `weights_into_loops` (where the target's record asks for it); the
target's empty-input pass, `guard_empty` or `pad_empty` (its record's `late_passes`,
rnn2onnx/targets.py; `passes=` replaces them, and benchmarks pass () to measure what they
cost). Every pass makes its nodes with the emitters' builder, graph.OnnxGraph, taken onto
the finished model (`OnnxGraph.onto`: names new to every graph in it).

`guard_empty` — onnxruntime 1.32 kills the process (SIGFPE or abort, nothing to catch)
when some recurrent nodes see an empty input (README, "Known runtime issues"):

- native `LSTM` on batch 0, native `GRU` on batch 0 or 0 timesteps (abort: "terminate
  called without an active exception");
- `Scan` on 0 iterations, and a `Scan` with scan outputs on batch 0 (SIGFPE).

Each such node is moved into the else-branch of an `If` on "its input is empty" whose
then-branch returns what zero work computes, exactly: for 0 timesteps the final states
are the initial states (a native op's `initial_h`/`initial_c`, zeros when absent) and
the sequence outputs are empty; for batch 0 every output is empty. The pass matches op
types, not emitters, so every form any emitter writes (masked native ops with
`sequence_lens`, other Scan bodies) gets the guard. Cost: one `Size` + `Equal` per graph
input and one `If` per guarded node, measured by `rnn2onnx bench` (rows e).

`pad_empty` — the same safety without an `If`, for files that must run on every runtime
(target="portable"): tract 0.23 miscomputes a Scan inside an `If` whose per-step output is
read at its last step. The graph input is padded to at least one row and one step (by
Concat of zero blocks that are empty for a non-empty input), every node runs on that, and
the output is cut back to the input's batch and time; the results that drop the time
axis (a native op's `Y_h`/`Y_c`, a `Scan`'s or `Loop`'s final states, a per-step output
read at one step) become `Where(time > 0, result, initial state)` (zeros for a read
step), which is what zero steps compute: the onnxruntime target's answers. Exact for
non-empty input (bit for bit on onnxruntime, OpenVINO and tract: tests/rnn2onnx/
test_passes.py); cost in `rnn2onnx bench` (g).

The reference follows Keras 0.2.0 instead, which refuses an empty sequence (Theano's
scan: "We didn't implemented yet the case where scan do 0 iteration"): `predict` raises
InputError for 0 timesteps or an empty batch.
"""
import re

import onnx
from onnx import TensorProto, helper, numpy_helper

from .errors import ExportError
from .graph import OnnxGraph, all_graphs, walk_nodes

NATIVE_RECURRENT = ("LSTM", "GRU", "RNN")
#: doc_string of an If branch that runs on non-empty input only (the batch-size dispatch's
#: native branch, emitters/dispatch.py): its nodes need no guard
NON_EMPTY_BRANCH = "runs on non-empty input only"
GUARDED = NATIVE_RECURRENT + ("Scan", "Loop")
LOOPS = ("Scan", "Loop")


def guard_empty(model):
    """Rewrite `model` (an onnx.ModelProto) in place: every node of type GUARDED in the
    main graph, or in a branch of an `If` there (the batch-size dispatch,
    emitters/dispatch.py), runs inside an If that answers an empty input without running it."""
    graph = model.graph
    root = OnnxGraph.onto(model)
    sources = _graph_inputs_behind(graph)
    conditions = {}  # tested tensor -> its "is empty" tensor, made once (in the main graph)
    nodes = list(graph.node)
    del graph.node[:]
    _guard_nodes(nodes, graph.node, graph, root, sources, conditions, graph.node)
    return model


def _guard_nodes(nodes, out, graph, root, sources, conditions, main):
    """Append `nodes` to `out` (a node list of `graph` or of an If branch in it), each
    GUARDED node replaced by its guard; conditions on graph inputs go to `main`, before
    the node that needs them."""
    for node in nodes:
        if node.op_type == "If" and not node.domain:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH and attr.g.doc_string != NON_EMPTY_BRANCH:
                    inner = list(attr.g.node)
                    del attr.g.node[:]
                    _guard_nodes(inner, attr.g.node, graph, root, sources, conditions, main)
            out.append(node)
        elif node.op_type in GUARDED and not node.domain:
            # (a Loop's trip count is computed from the sequence it reads)
            data = _scan_inputs(node)[0] if node.op_type == "Scan" else node.input[0]
            behind = sources.get(data, set())
            # Test the graph input the node's data comes from, not the data itself: the
            # layers between keep batch and time (so one is empty iff the other is), and
            # OpenVINO 2026.4 mis-evaluates Size() of an If's output (stacked guards then
            # take the empty branch on real input)
            tested = next(iter(behind)) if len(behind) == 1 else data
            key = tested if len(behind) == 1 else (id(out), data)  # a tensor of a branch is tested there
            if key not in conditions:
                conditions[key] = _empty_condition(tested, root, main if len(behind) == 1 else out)
            _guarded(node, graph, root, conditions[key], out)
        else:
            out.append(node)


def _graph_inputs_behind(graph):
    """{tensor: set of graph inputs it is computed from}."""
    # If branches too (they read the outer scope)
    return _behind(walk_nodes(graph), [v.name for v in graph.input])


def _behind(nodes, starts):
    """{tensor: set of the tensors `starts` it is computed from} (`nodes` in topological order)."""
    behind = {name: {name} for name in starts}
    for node in nodes:
        found = set().union(*(behind.get(i, set()) for i in node.input if i))
        for out in node.output:
            if out:  # (an omitted output: "", as an omitted input)
                behind[out] = found
    return behind


def _empty_condition(tensor, root, into):
    """The name of a bool tensor "tensor has no elements", its nodes (made by the builder
    `root`) put into the node list `into`."""
    zero = root.constant(0, f"{tensor}/guard/zero", into=into)
    return root.node("Equal", [root.node("Size", [tensor], f"{tensor}/guard/Size", into=into), zero],
                     f"{tensor}/guard/empty", into=into)


def _float_elem(graph):
    """The graph's float type: an exported graph computes in one float dtype, its float
    outputs' (a Graph may also pass token ids out, even as its first output)."""
    floats = (TensorProto.FLOAT, TensorProto.DOUBLE)
    return next(o.type.tensor_type.elem_type for o in graph.output if o.type.tensor_type.elem_type in floats)


def _elem_types(node, graph):
    """Element type of each output of `node`: the graph's float type."""
    return [_float_elem(graph)] * len(node.output)


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _scan_inputs(node):
    n_scan = _attr(node, "num_scan_inputs")
    return list(node.input[len(node.input) - n_scan:])


def _ranks(node):
    """The rank of each (present) output of `node`."""
    if node.op_type in NATIVE_RECURRENT:
        return [4 if i == 0 else 3 for i, o in enumerate(node.output) if o]
    body = _attr(node, "body")
    if node.op_type == "Loop":  # body outputs: cond, states, per-step outputs
        n_states = len(node.input) - 2
        return [len(body.output[1 + i].type.tensor_type.shape.dim) + (0 if i < n_states else 1)
                for i, o in enumerate(node.output) if o]
    n_states = len(node.input) - _attr(node, "num_scan_inputs")
    return [len(body.output[i].type.tensor_type.shape.dim) + (0 if i < n_states else 1)
            for i, o in enumerate(node.output) if o]


def _guarded(node, graph, root, empty, into):
    """The If replacing `node`, on the bool tensor `empty`, put into the node list `into`."""
    base = node.name or node.op_type
    elems = _elem_types(node, graph)
    build = _builder(root, f"{base}/empty")
    empty_result = _EmptyResult(node, graph, build)
    then_outputs = [empty_result.output(i) for i, out in enumerate(node.output) if out]
    outputs = [o for o in node.output if o]
    inner = onnx.NodeProto()
    inner.CopyFrom(node)
    for i, out in enumerate(inner.output):
        if out:
            inner.output[i] = root.unique(f"{out}/run")
    # branch outputs declare their rank: OpenVINO 2026.4's CPU plugin needs it, and
    # computes wrong results when several guarded Scans pass through Identity nodes
    ranks = _ranks(node)
    else_graph = helper.make_graph([inner], f"{base}/run", [],
                                   [helper.make_tensor_value_info(o, e, [None] * r)
                                    for o, e, r in zip([o for o in inner.output if o], elems, ranks)])
    then_graph = helper.make_graph(build.g.nodes, f"{base}/empty", [],
                                   [helper.make_tensor_value_info(o, e, [None] * r)
                                    for o, e, r in zip(then_outputs, elems, ranks)])
    root.node("If", [empty], f"{base}/guard", output_names=outputs, into=into,
               then_branch=then_graph, else_branch=else_graph)


class _EmptyResult:
    """What each output of `node` is for an empty input: nodes (into `build`, the
    then-branch's builder) computing it."""

    def __init__(self, node, graph, build):
        self.node, self.graph, self.build = node, graph, build

    def _dim(self, tensor, axis):
        build = self.build
        shape = build("Shape", [tensor], "Shape")
        return build("Slice", [shape, build.constant([axis]), build.constant([axis + 1])], "Slice")

    def _zeros(self, dims, elem):
        shape = self.build("Concat", dims, "Concat", axis=0)
        zero = helper.make_tensor("value", elem, [1], [0])
        return self.build("ConstantOfShape", [shape], "ConstantOfShape", value=zero)

    def output(self, i):
        elem = _elem_types(self.node, self.graph)[i]
        if self.node.op_type == "Scan":
            return self._scan_output(i, elem)
        if self.node.op_type == "Loop":
            return self._loop_output(i, elem)
        return self._native_output(i, elem)

    def _native_output(self, i, elem):
        node, build = self.node, self.build
        if _attr(node, "layout", 0) != 0:
            raise ExportError(f"guard_empty: {node.name}: only layout 0 is guarded")
        x = node.input[0]
        directions = 2 if _attr(node, "direction", b"forward") in (b"bidirectional", "bidirectional") else 1
        hidden = build.constant([_attr(node, "hidden_size")])
        D = build.constant([directions])
        T, B = self._dim(x, 0), self._dim(x, 1)
        if i == 0:  # Y (T, D, B, H): empty either way
            return self._zeros([T, D, B, hidden], elem)
        initial = 5 + (i - 1)  # Y_h <- initial_h (input 5), Y_c <- initial_c (input 6)
        if len(node.input) > initial and node.input[initial]:
            return build("Identity", [node.input[initial]], "Identity")
        return self._zeros([D, B, hidden], elem)

    def _loop_output(self, i, elem):
        """A Loop over the time steps (our loop_op="loop" form): the final states are the
        initial ones; a per-step output is (M, per-step shape), its symbolic dims (our
        bodies: the batch) read from the first state at the same position."""
        node, build = self.node, self.build
        n_states = len(node.input) - 2
        if i < n_states:
            return build("Identity", [node.input[2 + i]], "Identity")
        per_step = _attr(node, "body").output[1 + i].type.tensor_type.shape.dim
        if not per_step or n_states == 0:
            raise ExportError(f"guard_empty: {node.name}: loop output {i} has no declared shape or no state")
        trips = build("Reshape", [node.input[0], build.constant([1])], "Reshape")
        dims = [trips]
        for pos, d in enumerate(per_step):
            dims.append(build.constant([d.dim_value]) if d.HasField("dim_value") else self._dim(node.input[2], pos))
        return self._zeros(dims, elem)

    def _scan_output(self, i, elem):
        node, build = self.node, self.build
        n_scan = _attr(node, "num_scan_inputs")
        n_states = len(node.input) - n_scan
        if i < n_states:  # the final state after zero steps is the initial state
            return build("Identity", [node.input[i]], "Identity")
        k = i - n_states
        body = _attr(node, "body")
        scan_inputs = _scan_inputs(node)
        in_axes = _attr(node, "scan_input_axes", [0] * n_scan)
        out_axes = _attr(node, "scan_output_axes", [0] * (len(node.output) - n_states))
        first, in_axis = scan_inputs[0], in_axes[0]
        T = self._dim(first, in_axis)
        # per-step shape from the body's output type; a symbolic dim (our bodies: batch)
        # is read from the first scan input's per-step shape at the same position
        dims = []
        per_step = body.output[n_states + k].type.tensor_type.shape.dim
        if not per_step:
            raise ExportError(f"guard_empty: {node.name}: scan output {k} has no declared shape")
        for pos, d in enumerate(per_step):
            if d.HasField("dim_value"):
                dims.append(build.constant([d.dim_value]))
            else:
                dims.append(self._dim(first, pos if pos < in_axis else pos + 1))
        axis = out_axes[k] if out_axes[k] >= 0 else out_axes[k] + len(dims) + 1
        dims.insert(axis, T)
        return self._zeros(dims, elem)


def pad_empty(model):
    """Rewrite `model` in place so that no node sees an empty batch or zero timesteps, with
    no `If` (see the module docstring). The dims the graph's input and output name "batch"
    and "time" (the exporter's contract) say which axes are padded and sliced back."""
    graph = model.graph
    # a container's inputs (input_1, ...; a Graph's names) each have a time axis of their
    # own (time_1, ...): each is padded on its own, and a result that drops time is
    # answered by the "time > 0" of the one input it depends on
    sources = [(source, _input_axes(source)) for source in graph.input]
    sources = [(source, axes) for source, axes in sources if axes]
    if not sources:
        return model
    root = OnnxGraph.onto(model)
    build = _builder(root, "input/pad")
    elem = _float_elem(graph)
    nodes = list(graph.node)
    axes, dims, positive = _named_axes(sources[0][0]), None, {}
    for source, its_axes in sources:
        padded, its_dims, positive[padded] = _padding(source, its_axes, build)
        dims = dims or its_dims  # every input has the same batch; one input: its time too
        for node in nodes:  # every reader of the input reads the padded input
            for i, name in enumerate(node.input):
                if name == source.name:
                    node.input[i] = padded
    time_positive_of = _time_positive_per_node(nodes, positive)
    read = {name for node in nodes for name in node.input} | {out.name for out in graph.output}
    del graph.node[:]
    graph.node.extend(build.g.nodes)
    loop_outputs = {}  # per-step output of a Scan/Loop -> its time axis
    zeros = {node.output[0] for node in nodes if node.op_type == "ConstantOfShape" and _all_zero(node)}
    for node in nodes:
        after = _builder(root, "")
        time_positive = time_positive_of[id(node)]
        if not node.domain and time_positive is not None:
            for i, initial in _final_states(node):
                if initial in zeros:
                    # tract 0.23 (symbolic batch) fails on a Where that reads a native
                    # op's initial_h beside its Y_h ("Clashing resolution for expression")
                    initial = ""
                if node.output[i] in read:
                    _at_zero_steps(node, i, initial, time_positive, after, elem)
            if node.op_type in LOOPS:
                loop_outputs.update(_per_step_outputs(node))
            elif node.op_type == "Gather" and node.input[0] in loop_outputs \
                    and _attr(node, "axis", 0) == loop_outputs[node.input[0]]:
                _at_zero_steps(node, 0, "", time_positive, after, elem)
        graph.node.append(node)  # (a copy: its outputs are renamed above)
        graph.node.extend(after.g.nodes)
    for out in graph.output:
        _slice_back(out, axes, dims, graph, root)
    return model


def _builder(root, prefix):
    """Nodes for a pass, in a list of their own (`.g.nodes`), named under `prefix` (none for
    "") with names new to the model of `root` (OnnxGraph.onto)."""
    return root.subgraph(prefix).prefixed(prefix)


def _named_axes(value_info):
    """{"batch": axis, "time": axis} of a graph input or output, from its dim names."""
    dims = value_info.type.tensor_type.shape.dim
    return {d.dim_param: i for i, d in enumerate(dims) if d.dim_param in ("batch", "time")}


def _input_axes(value_info):
    """{"batch": axis, "time": axis} of a graph input: its time may be named time_1, ..."""
    dims = value_info.type.tensor_type.shape.dim
    return {("time" if re.fullmatch(r"time(_\d+)?", d.dim_param) else d.dim_param): i for i, d in enumerate(dims)
            if re.fullmatch(r"batch|time(_\d+)?", d.dim_param)}


def _time_positive_per_node(nodes, positive):
    """{id(node): the "time > 0" of the one padded input the node depends on, or None}
    (`positive`: padded input -> its "time > 0"; nodes in topological order)."""
    behind = _behind(nodes, positive)
    # a node's outputs share one set
    found = {id(node): behind.get(next((o for o in node.output if o), None), set()) for node in nodes}
    return {key: positive[next(iter(f))] if len(f) == 1 else None for key, f in found.items()}


def _padding(source, axes, build):
    """Nodes (into `build`) padding the graph input `source`: (padded input, {"batch"/"time":
    scalar dim of the input}, bool scalar "time > 0" or None).

    A batch of none gets one zero row ((B == 0) rows), zero timesteps one zero step
    (max(T, 1) - T steps), each by a Concat with a block of zeros; a non-empty input gets
    blocks of size 0. Measured alternatives that fail: `Pad` (tract 0.23 does not type a
    pad by symbolic amounts); max(B, 1) rows (tract, with a symbolic batch B, cannot run a
    Scan, nor a native op, which it turns into one, whose batch is max(B, 1): "Undetermined
    symbol in expression: B"); always one more row (exact and accepted everywhere, but
    onnxruntime's native LSTM is 1.8x slower at batch 2 than at batch 1, and its float64
    products round differently)."""
    rank = len(source.type.tensor_type.shape.dim)
    shape = build("Shape", [source.name], "Shape")
    dims = {name: build("Gather", [shape, build.constant(axis, f"{name}_axis")], name, axis=0)
            for name, axis in axes.items()}
    missing = {}
    if "batch" in axes:  # (B == 0) rows
        rows = build("Unsqueeze", [dims["batch"], build.constant([0], "axis0")], "batch_1d")
        empty = build("Equal", [rows, build.constant([0], "zero_1d")], "batch_empty")
        missing[axes["batch"]] = build("Cast", [empty], "missing_rows", to=TensorProto.INT64)
    time_positive = None
    if "time" in axes:
        steps = build("Unsqueeze", [dims["time"], build.constant([0], "axis0")], "time_1d")
        missing[axes["time"]] = build("Sub", [build("Max", [steps, build.constant([1], "one")], "Max"), steps], "missing_steps")
        time_positive = build("Greater", [dims["time"], build.constant(0, "zero")], "time_positive")
    padded = source.name
    value = helper.make_tensor("value", source.type.tensor_type.elem_type, [1], [0])
    for axis in sorted(missing):
        current = build("Shape", [padded], "Shape")
        parts = [build("Slice", [current, build.constant([0]), build.constant([axis])], "before")] if axis else []
        parts.append(missing[axis])
        if axis + 1 < rank:
            parts.append(build("Slice", [current, build.constant([axis + 1]), build.constant([rank])], "after"))
        zeros = build("ConstantOfShape", [build("Concat", parts, "zeros_shape", axis=0)], "zeros", value=value)
        padded = build("Concat", [padded, zeros], "Concat", axis=axis)
    return padded, dims, time_positive


def _final_states(node):
    """[(output index, its initial state input or "")] of the outputs of `node` that drop
    the time axis: a native op's Y_h/Y_c, a Scan's or Loop's final states."""
    if node.op_type in NATIVE_RECURRENT:  # Y_h, Y_c <- initial_h (input 5), initial_c (6)
        return [(i, node.input[4 + i] if len(node.input) > 4 + i else "")
                for i in (1, 2) if len(node.output) > i and node.output[i]]
    if node.op_type == "Scan":
        n_states = len(node.input) - _attr(node, "num_scan_inputs")
        return [(i, node.input[i]) for i in range(n_states) if node.output[i]]
    if node.op_type == "Loop":
        n_states = len(node.input) - 2
        return [(i, node.input[2 + i]) for i in range(n_states) if len(node.output) > i and node.output[i]]
    return []


def _all_zero(constant_of_shape):
    value = _attr(constant_of_shape, "value")
    return value is None or not numpy_helper.to_array(value).any()


def _per_step_outputs(node):
    """{per-step output of a Scan/Loop: its time axis}."""
    if node.op_type == "Loop":
        n_states = len(node.input) - 2
        return {o: 0 for o in node.output[n_states:] if o}
    n_states = len(node.input) - _attr(node, "num_scan_inputs")
    n_out = len(node.output) - n_states
    axes = _attr(node, "scan_output_axes", [0] * n_out)
    return {o: a for o, a in zip(node.output[n_states:], axes) if o}


def _at_zero_steps(node, i, initial, time_positive, build, elem):
    """Rename output i of `node` and give its old name Where(time > 0, it, initial): after
    zero steps a state is its initial value (a native op's default, and any all-zero
    ConstantOfShape: a scalar 0); a step read
    from an empty sequence is taken as zeros, which is what the onnxruntime target's guard
    returns there (the carried last output's zero initial state)."""
    out = node.output[i]
    node.output[i] = build.g.unique(f"{out}/padded")
    if not initial:
        initial = build.constant(0, f"{out}/zero", elem=elem)
    build("Where", [time_positive, node.output[i], initial], output_names=[out])


def _slice_back(output, axes, dims, graph, root):
    """Cut graph output `output` back to the input's batch and time (the axes it shares
    with the input, by name). The batch by a Gather of rows 0..B-1: on a concrete empty
    batch tract 0.23's optimizer fails on a Slice to zero rows pushed up through the
    layers (PushSliceUp)."""
    own = _named_axes(output)
    keep = [name for name in ("batch", "time") if name in own and name in axes]
    if not keep:
        return
    padded = root.unique(f"{output.name}/padded")
    for node in graph.node:  # the graph's own readers of the tensor (a Graph output read by
        for i, name in enumerate(node.output):  # another node) keep reading the padded one
            if name == output.name:
                node.output[i] = padded
        for i, name in enumerate(node.input):
            if name == output.name:
                node.input[i] = padded
    build = _builder(root, f"{output.name}/slice")
    current = padded
    for k, name in enumerate(keep):
        out = output.name if k == len(keep) - 1 else None
        if name == "batch":
            rows = build("Range", [build.constant(0, "zero"), dims["batch"], build.constant(1, "one")], "rows")
            current = build("Gather", [current, rows], output_names=[out] if out else None, axis=own["batch"])
        else:
            end = build("Unsqueeze", [dims["time"], build.constant([0], "axis0")], "time_1d")
            current = build("Slice", [current, build.constant([0]), end, build.constant([own["time"]])],
                            output_names=[out] if out else None)
    graph.node.extend(build.g.nodes)


def fuse_gemm(model, fusable):
    """Rewrite `model` in place: each MatMul `fusable` names becomes a Gemm (see
    fuse_gemm_nodes), wherever it is (loop bodies and branches included)."""
    fuse_gemm_nodes([n for g in all_graphs(model.graph) for n in g.node], fusable, OnnxGraph.onto(model).unique)
    return model


def fuse_gemm_nodes(nodes, fusable, unique):
    """The MatMuls among `nodes` named in `fusable` ([(node name, name prefix)], the products
    the op set saw feed an activation, OnnxOps.act) become Gemms named `unique("<prefix>/Gemm")`,
    in `fusable`'s order; their outputs keep their names. The ones found are taken out of
    `fusable`. onnxruntime fuses an activation into the Gemm before it, never into a MatMul
    (a MatMul followed by an Add it makes a Gemm itself, then fuses); the step's operands
    are (batch, width) matrices, where the two ops are the same product."""
    found = {node.name: node for node in nodes if node.op_type == "MatMul"}
    left = []
    for name, prefix in fusable:
        node = found.get(name)
        if node is None:
            left.append((name, prefix))
        else:
            node.op_type, node.name = "Gemm", unique(f"{prefix}/Gemm")
    fusable[:] = left


def weights_into_loops(model):
    """Rewrite `model` in place: each main-graph initializer that the nodes of one `Scan` or
    `Loop` body read, and nothing else, becomes an initializer of that body (moved, never
    copied). onnxruntime prepacks the weight of a `Gemm`/`MatMul` only when it is an
    initializer of the graph the node is in; an outer-scope weight is read unpacked at every
    step. Measured at batch 1 (T 50, 32->64, one thread): the JZS3 Scan 0.91-0.93x the time
    with the weights outside (the same with prepacking disabled: the packing is the gain);
    the results move by a rounding (1.2e-7 in float32: the packed kernel sums in another
    order). For target="onnxruntime" files (export.build): the runtimes held to portable
    files are not asked to read initializers inside loop bodies."""
    graph = model.graph
    weights = {t.name for t in graph.initializer}
    readers = {}  # initializer -> ids of the loop bodies reading it (None: a node outside any loop)
    defined = set()  # names a subgraph defines itself: an outer weight of that name is left alone
    bodies = {}

    def visit(g, body):
        for node in g.node:
            for name in node.input:
                if name in weights:
                    readers.setdefault(name, set()).add(body)
            for attr in node.attribute:
                for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    inner = body
                    if node.op_type in LOOPS and not node.domain and attr.name == "body":
                        inner = id(sub)
                        bodies[inner] = sub
                    defined.update(v.name for v in sub.input)
                    defined.update(o for n in sub.node for o in n.output)
                    defined.update(t.name for t in sub.initializer)
                    visit(sub, inner)

    visit(graph, None)
    outputs = {o.name for o in graph.output} | {i.name for i in graph.input}
    kept = []
    for tensor in graph.initializer:
        found = readers.get(tensor.name, set())
        body = next(iter(found)) if len(found) == 1 else None
        if body is None or tensor.name in defined or tensor.name in outputs:
            kept.append(tensor)
        else:
            bodies[body].initializer.append(tensor)
    if len(kept) < len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(kept)
    return model
