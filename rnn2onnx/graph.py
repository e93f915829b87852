"""The one node builder over onnx.helper: unique names, initializers, constants,
subgraphs and the opset's forms of an op (`OnnxGraph`), for the emitters and, over a
finished model (`OnnxGraph.onto`), for the late passes (passes.py); and `OnnxOps`, the
op set the reference cells' `step` functions are written against, emitting nodes instead
of computing arrays."""
import hashlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


ELEM_TYPE = {np.dtype("float32"): TensorProto.FLOAT, np.dtype("float64"): TensorProto.DOUBLE}
#: the opset from which a Reduce* op takes its axes as an input (an attribute before);
#: the ones not listed: 18
AXES_INPUT_FROM = {"ReduceSum": 13}


def fresh_name(base, used, suffixes):
    """`base`, or `base_2`, `base_3`, ... : the first not in the set `used` (then added to
    it). `suffixes` (a dict kept with `used`) remembers where each base's search stopped,
    so n names from one base cost O(n), not O(n**2)."""
    candidate, i = base, suffixes.get(base, 1)
    if i > 1:
        candidate = f"{base}_{i}"
    while candidate in used:
        i += 1
        candidate = f"{base}_{i}"
    used.add(candidate)
    suffixes[base] = i
    return candidate


class OnnxGraph:
    """Nodes, inputs and outputs of one ONNX graph; subgraphs share the root's names,
    initializers and constants (a Scan body reads weights from the outer scope)."""

    def __init__(self, name, dtype, opset, root=None, target="onnxruntime", shapes_only=False, fixed_batch=None):
        """target: the export target's record (rnn2onnx/targets.py) or a registered name.
        shapes_only: initializers are named but not stored (a plan reads no weights).
        fixed_batch: the batch size every input has (export's fixed_shape), or None."""
        from . import targets  # (targets imports passes, which imports this module)

        self.name, self.dtype, self.opset = name, np.dtype(dtype), opset
        self.shapes_only = root.shapes_only if root is not None else shapes_only
        self.fixed_batch = root.fixed_batch if root is not None else fixed_batch
        self.target = root.target if root is not None else targets.get(target)
        self.elem = ELEM_TYPE[self.dtype]
        self.root = root or self
        self.nodes, self.inputs, self.outputs = [], [], []
        if root is None:
            self.initializers, self.used_names, self._consts, self._by_content = [], set(), {}, {}
            self._suffixes = {}
            #: [(MatMul node name, name prefix)]: products the op set saw feed an activation,
            #: in that order, for passes.fuse_gemm (OnnxOps.act)
            self.fusable = []

    @classmethod
    def onto(cls, model):
        """A builder for nodes added to the finished onnx.ModelProto `model` (the late passes):
        its names are new to every graph of the model (loop bodies and branches included,
        which share one namespace); its dtype is the model's float type (an exported graph
        computes in one: its float outputs'), its opset the model's. The nodes it makes go
        to its own list (`nodes`, or a subgraph's), or into a list given to `node`."""
        floats = {elem: dtype for dtype, elem in ELEM_TYPE.items()}
        elems = [o.type.tensor_type.elem_type for o in model.graph.output]
        dtype = next((floats[e] for e in elems if e in floats), np.dtype("float32"))
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        g = cls(model.graph.name, dtype, opset)
        g.used_names.update(_graph_names(model.graph))
        return g

    def unique(self, name):
        return fresh_name(name, self.root.used_names, self.root._suffixes)

    def initializer(self, name, array, dtype=None):
        """An initializer of the root graph named after `name`. The same name asked for
        twice with the same content is one initializer (the two branches of a batch-size
        dispatch, emitters/dispatch.py, each emit the layer's loop-form projection)."""
        if self.shapes_only:
            return self.unique(name)
        array = np.asarray(array, dtype=dtype or self.dtype)
        key = (name, array.dtype.str, array.shape, hashlib.sha256(np.ascontiguousarray(array)).digest())
        stored = self.root._by_content.get(key)
        if stored is None:
            stored = self.root._by_content[key] = self.unique(name)
            self.root.initializers.append(numpy_helper.from_array(array, stored))
        return stored

    def const(self, values, dtype="int64"):
        """A shared constant (shape arguments, scalars); deduplicated by value."""
        array = np.asarray(values, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        consts = self.root._consts
        if key not in consts:
            flat = "_".join(str(v) for v in array.ravel()[:4]) if array.size <= 4 else f"{array.size}"
            consts[key] = self.initializer(f"const/{array.dtype.name}_{flat}", array, dtype=array.dtype)
        return consts[key]

    def scalar(self, value):
        """A scalar in the graph's float dtype."""
        return self.const(value, dtype=self.dtype)

    def node(self, op, inputs, name=None, outputs=1, *, prefix=None, output_names=None, into=None, **attrs):
        """Add a node named `name` (default: `op`, or its first output when `output_names`
        are given), under `prefix/` when given (e.g. 'lstm_1/Add'), made unique. Its
        outputs: `outputs` of them named after the node (one: the node's own name; n:
        `<node>:0`, `<node>:1`, ...; a list of keys: `<node>:<key>`, None for an omitted
        output, ""), or `output_names`, taken as they are. The node goes to this graph, or
        into the list `into` (a GraphProto's node field included). Returns the output
        name, or the list of them when there are several."""
        if name is None and output_names:  # a node given its output's name is named after it
            base, prefix = output_names[0], None
        else:
            base = name or op
        node_name = self.unique(f"{prefix}/{base}" if prefix else base)
        if output_names is not None:
            out = list(output_names)
        elif outputs == 1:
            out = [node_name]
        else:
            keys = range(outputs) if isinstance(outputs, int) else outputs
            out = [self.unique(f"{node_name}:{key}") if key is not None else "" for key in keys]
        (self.nodes if into is None else into).append(helper.make_node(op, list(inputs), out, name=node_name, **attrs))
        return out[0] if len(out) == 1 else out

    def prefixed(self, prefix):
        """This graph with node names under `prefix` (see Prefixed)."""
        return Prefixed(self, prefix)

    def constant(self, values, name="const", elem=TensorProto.INT64, prefix=None, into=None):
        """A `Constant` node of `values`, a list (1-D) or a number (scalar): the passes'
        constants (a finished model's nodes read them where they are; no initializer is
        added)."""
        dims = [len(values)] if isinstance(values, list) else []
        return self.node("Constant", [], name, prefix=prefix, into=into,
                         value=helper.make_tensor("value", elem, dims, values))

    def copy_node(self, node, name, inputs, output_names, op=None):
        """A copy of `node` (its attributes; its op, or `op`) reading `inputs`: named `name`
        made unique, then each output after `output_names` made unique ("" stays an omitted
        output). Returns the output names."""
        copy = helper.make_node(op or node.op_type, list(inputs), [], name=self.unique(name))
        copy.attribute.extend(node.attribute)
        copy.output.extend(self.unique(out) if out else "" for out in output_names)
        self.nodes.append(copy)
        return list(copy.output)

    def batch_zeros(self, x, batch_axis, widths, name, lead=()):
        """One zero tensor (*lead, batch, w) per width, batch read from axis `batch_axis`
        of `x`: the zero initial states of loops and native ops. With a fixed batch,
        constants (converters such as onnx2tf then see no shape arithmetic)."""
        if self.fixed_batch is not None:
            return [self.const(np.zeros(tuple(lead) + (self.fixed_batch, w)), dtype=self.dtype) for w in widths]
        batch = self.node("Slice", [self.node("Shape", [x], f"{name}/Shape"), self.const([batch_axis]),
                                    self.const([batch_axis + 1])], f"{name}/batch")
        zeros = []
        for w in widths:
            parts = ([self.const(list(lead))] if lead else []) + [batch, self.const([w])]
            shape = self.node("Concat", parts,
                              f"{name}/state_shape", axis=0)
            zeros.append(self.node("ConstantOfShape", [shape], f"{name}/zeros",
                                   value=helper.make_tensor("value", self.elem, [1], [0.0])))
        return zeros

    def reduce_max(self, x, axes, name, keepdims=0):
        """ReduceMax over `axes` (None: all); see `reduce`."""
        return self.reduce("ReduceMax", x, axes, name, keepdims)

    def reduce(self, op, x, axes, name, keepdims=0):
        """A Reduce* op over `axes` (None: all), whichever way the opset takes them: an
        input from the opset AXES_INPUT_FROM gives (18 for most), an attribute before."""
        if self.opset >= AXES_INPUT_FROM.get(op, 18):
            return self.node(op, [x] + ([self.const(axes)] if axes is not None else []), name,
                             keepdims=keepdims)
        return self.node(op, [x], name, keepdims=keepdims, **({"axes": axes} if axes is not None else {}))

    def add_input(self, name, shape, elem=None):
        name = self.unique(name)
        self.inputs.append(helper.make_tensor_value_info(name, elem or self.elem, shape))
        return name

    def add_output(self, name, shape, elem=None):
        self.outputs.append(helper.make_tensor_value_info(name, elem or self.elem, shape))

    def subgraph(self, name):
        return OnnxGraph(name, self.dtype, self.opset, root=self.root)

    def make_graph(self):
        initializers = self.initializers if self.root is self else []
        return helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, initializer=initializers)


class Prefixed:
    """Graph `g` with node names under `prefix` (none for ""): `node(op, inputs)` names the
    node `prefix/op`, `node(op, inputs, "label")` `prefix/label`; other arguments as
    OnnxGraph.node's."""

    def __init__(self, g, prefix):
        self.g, self.prefix = g, prefix

    def __call__(self, op, inputs, name=None, **kw):
        return self.g.node(op, inputs, name, prefix=self.prefix, **kw)

    def constant(self, values, name="const", elem=TensorProto.INT64, **kw):
        return self.g.constant(values, name, elem, prefix=self.prefix, **kw)


class OnnxOps:
    """The op set of reference/recurrent/base.py's NumpyOps, emitting ONNX nodes into
    graph `g` with names under `prefix`. Activations map to their ONNX forms (the table
    of reference/activations.py)."""

    def __init__(self, g, prefix):
        self.g, self.prefix = g, prefix
        self._node = g.prefixed(prefix)
        self._products = set()  # MatMul outputs (each its node's name) no activation has read yet

    def add(self, a, b):
        return self._node("Add", [a, b])

    def sub(self, a, b):
        return self._node("Sub", [a, b])

    def mul(self, a, b):
        return self._node("Mul", [a, b])

    def matmul(self, a, b):
        out = self._node("MatMul", [a, b])
        self._products.add(out)
        return out

    def split(self, x, sizes):
        if len(sizes) == 1:
            return [x]
        return self._node("Split", [x, self.g.const(sizes)], outputs=len(sizes), axis=-1)

    def mask(self, x, m):
        return x if m is None else self.mul(x, m)

    def where(self, cond, a, b):
        return self._node("Where", [cond, a, self.g.scalar(b) if isinstance(b, float) else b])

    def nonzero(self, x):
        return self._node("Not", [self._node("Equal", [x, self.g.scalar(0.0)])])

    def any_nonzero(self, x, axes):
        differs = self._node("Cast", [self.nonzero(x)], to=self.g.elem)
        return self.nonzero(self.g.reduce_max(differs, list(axes), f"{self.prefix}/ReduceMax", keepdims=1))

    def act(self, activation, x):
        if x in self._products:
            # a product read first by an activation: marked for passes.fuse_gemm, which
            # makes it a Gemm (onnxruntime fuses an activation into a Gemm, never a MatMul)
            self._products.discard(x)
            self.g.root.fusable.append((x, self.prefix))
        from .activations import emit_activation  # (activations.py builds on this module's Prefixed)

        return emit_activation(self.g, activation, x, self.prefix)

    def affine(self, x, W, b, sizes):
        """x·W (+ b unless None) cut into column blocks of `sizes`: one MatMul (and Add)
        for all blocks, then one Split. Not a step's product: `act` makes no Gemm of it."""
        y = self._node("MatMul", [x, W])
        if b is not None:
            y = self._node("Add", [y, b])
        return self.split(y, sizes)

    def concat(self, parts):
        return parts[0] if len(parts) == 1 else self._node("Concat", parts, axis=-1)


def walk_nodes(graph):
    """The nodes of an onnx.GraphProto and of the `If` branches in it (the empty-input
    guard, passes.py, puts native ops and Scans inside one); loop bodies are not entered."""
    for node in graph.node:
        yield node
        if node.op_type == "If":
            for attr in node.attribute:
                yield from walk_nodes(helper.get_attribute_value(attr))


def all_graphs(graph):
    """onnx.GraphProto `graph` and every graph in it (loop bodies, branches, theirs)."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from all_graphs(sub)


def _graph_names(graph):
    """Every name in onnx.GraphProto `graph` and its subgraphs: nodes, their inputs and
    outputs, the graphs' inputs, outputs and initializers."""
    names = set()
    for g in all_graphs(graph):
        names.update(v.name for v in list(g.input) + list(g.output))
        names.update(t.name for t in g.initializer)
        for node in g.node:
            names.update(node.input)
            names.update(node.output)
            names.add(node.name)
    return names


def finish_model(g, opset, metadata):
    model = helper.make_model(
        g.make_graph(),
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="rnn2onnx",
    )
    model.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model


__all__ = ["OnnxGraph", "OnnxOps", "Prefixed", "all_graphs", "finish_model", "walk_nodes", "onnx"]
