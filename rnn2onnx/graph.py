"""A thin builder over onnx.helper: unique names, initializers, constants, subgraphs,
and `OnnxOps`, the op set the reference cells' `step` functions are written against,
emitting nodes instead of computing arrays."""
import hashlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .activations import emit_activation

ELEM_TYPE = {np.dtype("float32"): TensorProto.FLOAT, np.dtype("float64"): TensorProto.DOUBLE}


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

    def node(self, op, inputs, name, outputs=1, **attrs):
        """Add a node; `name` (e.g. 'lstm_1/Add') names it and its outputs. Returns the
        output name, or the list of them when `outputs` > 1."""
        node_name = self.unique(name)
        out = [node_name if outputs == 1 else self.unique(f"{node_name}:{i}") for i in range(outputs)]
        self.nodes.append(helper.make_node(op, list(inputs), out, name=node_name, **attrs))
        return out[0] if outputs == 1 else out

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
        """ReduceMax over `axes` (None: all), whichever way the opset takes them (an
        input from opset 18, an attribute before)."""
        return self.reduce("ReduceMax", x, axes, name, keepdims)

    def reduce(self, op, x, axes, name, keepdims=0):
        """A Reduce* op (not ReduceSum, whose axes became an input at opset 13) over `axes`."""
        if self.opset >= 18:
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


class OnnxOps:
    """The op set of reference/recurrent/base.py's NumpyOps, emitting ONNX nodes into
    graph `g` with names under `prefix`. Activations map to their ONNX forms (the table
    of reference/activations.py)."""

    def __init__(self, g, prefix):
        self.g, self.prefix = g, prefix
        self._products = {}  # MatMul output name -> its node

    def _node(self, op, inputs, **kw):
        return self.g.node(op, inputs, f"{self.prefix}/{op}", **kw)

    def add(self, a, b):
        return self._node("Add", [a, b])

    def sub(self, a, b):
        return self._node("Sub", [a, b])

    def mul(self, a, b):
        return self._node("Mul", [a, b])

    def matmul(self, a, b):
        out = self._node("MatMul", [a, b])
        self._products[out] = self.g.nodes[-1]
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
        product = self._products.pop(x, None)
        if product is not None:
            # onnxruntime fuses an activation into the Gemm before it, never into a MatMul
            # (a MatMul followed by an Add it makes a Gemm itself, then fuses); the step's
            # operands are (batch, width) matrices, where the two ops are the same product
            product.op_type, product.name = "Gemm", self.g.unique(f"{self.prefix}/Gemm")
        return emit_activation(self.g, activation, x, self.prefix)


def walk_nodes(graph):
    """The nodes of an onnx.GraphProto and of the `If` branches in it (the empty-input
    guard, passes.py, puts native ops and Scans inside one); loop bodies are not entered."""
    for node in graph.node:
        yield node
        if node.op_type == "If":
            for attr in node.attribute:
                yield from walk_nodes(helper.get_attribute_value(attr))


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


__all__ = ["OnnxGraph", "OnnxOps", "finish_model", "walk_nodes", "onnx"]
