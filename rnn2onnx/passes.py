"""Late rewrite passes over a finished graph: runtime quirks, fixed once for every form.

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

The reference follows Keras 0.2.0 instead, which refuses an empty sequence (Theano's
scan: "We didn't implemented yet the case where scan do 0 iteration"): `predict` raises
InputError for 0 timesteps or an empty batch.
"""
import onnx
from onnx import TensorProto, helper

from .errors import ExportError

NATIVE_RECURRENT = ("LSTM", "GRU", "RNN")
GUARDED = NATIVE_RECURRENT + ("Scan",)


def guard_empty(model):
    """Rewrite `model` (an onnx.ModelProto) in place: every node of type GUARDED in the
    main graph runs inside an If that answers an empty input without running it."""
    graph = model.graph
    names = _Names(graph)
    nodes = list(graph.node)
    sources = _graph_inputs_behind(graph)
    conditions = {}  # graph input -> its "is empty" tensor, made once
    del graph.node[:]
    for node in nodes:
        if node.op_type in GUARDED and not node.domain:
            data = node.input[0] if node.op_type in NATIVE_RECURRENT else _scan_inputs(node)[0]
            behind = sources.get(data, set())
            # Test the graph input the node's data comes from, not the data itself: the
            # layers between keep batch and time (so one is empty iff the other is), and
            # OpenVINO 2026.4 mis-evaluates Size() of an If's output (stacked guards then
            # take the empty branch on real input)
            tested = next(iter(behind)) if len(behind) == 1 else data
            if tested not in conditions:
                conditions[tested], condition_nodes = _empty_condition(tested, names)
                graph.node.extend(condition_nodes)
            graph.node.append(_guarded(node, graph, names, conditions[tested]))
        else:
            graph.node.append(node)
    return model


def _graph_inputs_behind(graph):
    """{tensor: set of graph inputs it is computed from} (nodes are in topological order)."""
    behind = {v.name: {v.name} for v in graph.input}
    for node in graph.node:
        found = set().union(*(behind.get(i, set()) for i in node.input if i))
        for out in node.output:
            behind[out] = found
    return behind


def _empty_condition(tensor, names):
    """(name of a bool tensor "tensor has no elements", [nodes computing it])."""
    size, empty, zero = names(f"{tensor}/guard/Size"), names(f"{tensor}/guard/empty"), names(f"{tensor}/guard/zero")
    return empty, [
        helper.make_node("Constant", [], [zero], name=zero, value=helper.make_tensor("value", TensorProto.INT64, [], [0])),
        helper.make_node("Size", [tensor], [size], name=size),
        helper.make_node("Equal", [size, zero], [empty], name=empty),
    ]


class _Names:
    """Fresh tensor/node names that collide with nothing in the graph."""

    def __init__(self, graph):
        self.used = {n for node in graph.node for n in list(node.input) + list(node.output) + [node.name]}
        self.used |= {t.name for t in graph.initializer} | {v.name for v in graph.input}

    def __call__(self, base):
        candidate, i = base, 1
        while candidate in self.used:
            i += 1
            candidate = f"{base}_{i}"
        self.used.add(candidate)
        return candidate


def _elem_types(node, graph):
    """Element type of each output of `node`: the graph's float type (an exported graph
    computes in one float dtype, its float outputs'; a Graph may also pass token ids out)."""
    floats = (TensorProto.FLOAT, TensorProto.DOUBLE)
    elem = next(o.type.tensor_type.elem_type for o in graph.output if o.type.tensor_type.elem_type in floats)
    return [elem] * len(node.output)


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
    n_states = len(node.input) - _attr(node, "num_scan_inputs")
    return [len(body.output[i].type.tensor_type.shape.dim) + (0 if i < n_states else 1)
            for i, o in enumerate(node.output) if o]


def _guarded(node, graph, names, empty):
    """The If replacing `node`, on the bool tensor `empty`."""
    base = node.name or node.op_type
    elems = _elem_types(node, graph)
    then_nodes = []
    then_outputs = []
    builder = _EmptyResult(node, names, graph)
    for i, out in enumerate(node.output):
        if not out:
            continue
        then_outputs.append(builder.output(i, then_nodes))
    outputs = [o for o in node.output if o]
    inner = onnx.NodeProto()
    inner.CopyFrom(node)
    for i, out in enumerate(inner.output):
        if out:
            inner.output[i] = names(f"{out}/run")
    # branch outputs declare their rank: OpenVINO 2026.4's CPU plugin needs it, and
    # computes wrong results when several guarded Scans pass through Identity nodes
    ranks = _ranks(node)
    else_graph = helper.make_graph([inner], f"{base}/run", [],
                                   [helper.make_tensor_value_info(o, e, [None] * r)
                                    for o, e, r in zip([o for o in inner.output if o], elems, ranks)])
    then_graph = helper.make_graph(then_nodes, f"{base}/empty", [],
                                   [helper.make_tensor_value_info(o, e, [None] * r)
                                    for o, e, r in zip(then_outputs, elems, ranks)])
    return helper.make_node("If", [empty], outputs, name=names(f"{base}/guard"),
                            then_branch=then_graph, else_branch=else_graph)


class _EmptyResult:
    """Nodes computing one output of `node` for an empty input (then-branch)."""

    def __init__(self, node, names, graph):
        self.node, self.names, self.graph = node, names, graph

    def _n(self, nodes, op, inputs, **attrs):
        out = self.names(f"{self.node.name or self.node.op_type}/empty/{op}")
        nodes.append(helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out

    def _const(self, nodes, values):
        out = self.names(f"{self.node.name or self.node.op_type}/empty/const")
        nodes.append(helper.make_node("Constant", [], [out], name=out,
                                      value=helper.make_tensor("value", TensorProto.INT64, [len(values)], values)))
        return out

    def _dim(self, nodes, tensor, axis):
        shape = self._n(nodes, "Shape", [tensor])
        return self._n(nodes, "Slice", [shape, self._const(nodes, [axis]), self._const(nodes, [axis + 1])])

    def _zeros(self, nodes, dims, elem):
        shape = self._n(nodes, "Concat", dims, axis=0)
        return self._n(nodes, "ConstantOfShape", [shape], value=helper.make_tensor("value", elem, [1], [0]))

    def output(self, i, nodes):
        elem = _elem_types(self.node, self.graph)[i]
        if self.node.op_type == "Scan":
            return self._scan_output(i, nodes, elem)
        return self._native_output(i, nodes, elem)

    def _native_output(self, i, nodes, elem):
        node = self.node
        if _attr(node, "layout", 0) != 0:
            raise ExportError(f"guard_empty: {node.name}: only layout 0 is guarded")
        x = node.input[0]
        directions = 2 if _attr(node, "direction", b"forward") in (b"bidirectional", "bidirectional") else 1
        hidden = self._const(nodes, [_attr(node, "hidden_size")])
        D = self._const(nodes, [directions])
        T, B = self._dim(nodes, x, 0), self._dim(nodes, x, 1)
        if i == 0:  # Y (T, D, B, H): empty either way
            return self._zeros(nodes, [T, D, B, hidden], elem)
        initial = 5 + (i - 1)  # Y_h <- initial_h (input 5), Y_c <- initial_c (input 6)
        if len(node.input) > initial and node.input[initial]:
            return self._n(nodes, "Identity", [node.input[initial]])
        return self._zeros(nodes, [D, B, hidden], elem)

    def _scan_output(self, i, nodes, elem):
        node = self.node
        n_scan = _attr(node, "num_scan_inputs")
        n_states = len(node.input) - n_scan
        if i < n_states:  # the final state after zero steps is the initial state
            return self._n(nodes, "Identity", [node.input[i]])
        k = i - n_states
        body = _attr(node, "body")
        scan_inputs = _scan_inputs(node)
        in_axes = _attr(node, "scan_input_axes", [0] * n_scan)
        out_axes = _attr(node, "scan_output_axes", [0] * (len(node.output) - n_states))
        first, in_axis = scan_inputs[0], in_axes[0]
        T = self._dim(nodes, first, in_axis)
        # per-step shape from the body's output type; a symbolic dim (our bodies: batch)
        # is read from the first scan input's per-step shape at the same position
        dims = []
        per_step = body.output[n_states + k].type.tensor_type.shape.dim
        if not per_step:
            raise ExportError(f"guard_empty: {node.name}: scan output {k} has no declared shape")
        for pos, d in enumerate(per_step):
            if d.HasField("dim_value"):
                dims.append(self._const(nodes, [d.dim_value]))
            else:
                dims.append(self._dim(nodes, first, pos if pos < in_axis else pos + 1))
        axis = out_axes[k] if out_axes[k] >= 0 else out_axes[k] + len(dims) + 1
        dims.insert(axis, T)
        return self._zeros(nodes, dims, elem)
