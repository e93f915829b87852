"""Activations into ONNX graphs: the forms are in the table of reference/activations.py
(each activation's NumPy and ONNX forms side by side); this is the builder they are
written against, and the refusal of an activation that has none."""
from reference.activations import ACTIVATIONS
from reference.untrusted import quote

from .errors import ExportError
from .graph import Prefixed


class FormBuilder(Prefixed):
    """What an activation's `onnx(b, x)` form is written against: the graph builder's
    nodes named under `prefix` (`b.node(op, inputs)`), scalars in its dtype, and what the
    form may depend on (the graph's dtype, the target's record, whether the nodes go into
    a loop body)."""

    def __init__(self, g, prefix):
        super().__init__(g, prefix)
        self.dtype, self.target, self.in_loop_body = g.dtype, g.target, g.root is not g

    def node(self, op, inputs, **attrs):
        return self(op, inputs, **attrs)

    def scalar(self, value):
        return self.g.scalar(value)

    def form(self, name, x):
        return ACTIVATIONS[name].onnx(self, x)


def emit_activation(g, activation, x, prefix):
    """Nodes computing a reference Activation on tensor x (last axis for softmax)."""
    if activation.onnx is None:
        name, known = activation.name, ", ".join(n for n, a in ACTIVATIONS.items() if a.onnx is not None)
        if name in ACTIVATIONS:  # a plain callable that happens to share the name: its function is not known
            raise ExportError(f"{prefix}: activation {quote(name)} has no ONNX form (a plain callable, not the "
                              f"built-in {name}); built-in activations: {known}")
        raise ExportError(f"{prefix}: activation {quote(name)} has no ONNX form; use one of {known}")
    return activation.onnx(FormBuilder(g, prefix), x)
