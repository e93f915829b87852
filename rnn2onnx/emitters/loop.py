"""The loop form: any reference recurrent cell as an ONNX `Scan`.

Scan is ONNX's loop over the slices of its inputs (a `Loop` with scan inputs and no
condition or Gather in its body, so each step costs fewer nodes). The graph is:

  projection  X·W_all (+ pre-activations) + b, all timesteps in one MatMul
  Scan        body = the cell's own `step` (reference/recurrent), emitted through
              OnnxOps: only the recurrent part runs per step, weights read from
              the outer scope; scan axis 1 so no Transpose is needed.
"""
import numpy as np
from onnx import helper

from ..graph import OnnxOps, emit_activation


class _Params(dict):
    """Initializers created on first use, so the graph holds only what the step reads."""

    def __init__(self, g, layer):
        super().__init__()
        self.g, self.layer, self.arrays = g, layer, layer.fused_params()

    def __missing__(self, key):
        self[key] = self.g.initializer(f"{self.layer.name}/{key}", self.arrays[key])
        return self[key]


def emit_projection(layer, g, x):
    """Per-step inputs of every projection group, shape (batch, time, width)."""
    xs = _emit_projection(layer, g, x)
    for j, activation in layer.projection_activations().items():  # gates reading the input only
        xs[j] = emit_activation(g, activation, xs[j], f"{layer.name}/projection")
    return xs


def _emit_projection(layer, g, x):
    name = layer.name
    entries = [entry for group in layer.projection for entry in group]
    W_all = np.concatenate([layer.params[W] for W, _, _ in entries], axis=1)
    W_name = g.initializer(f"{name}/{'|'.join(W for W, _, _ in entries)}", W_all)
    xw = g.node("MatMul", [x, W_name], f"{name}/projection/MatMul")
    if all(pre is None for _, _, pre in entries):
        b_all = np.concatenate([layer.params[b] for _, b, _ in entries])
        proj = g.node("Add", [xw, g.initializer(f"{name}/{'|'.join(b for _, b, _ in entries)}", b_all)],
                      f"{name}/projection/Add")
        widths = [sum(layer.params[W].shape[1] for W, _, _ in group) for group in layer.projection]
        return OnnxOps(g, f"{name}/projection").split(proj, widths)
    widths = [layer.params[W].shape[1] for W, _, _ in entries]
    parts = iter(OnnxOps(g, f"{name}/projection").split(xw, widths))
    out = []
    for group in layer.projection:
        cols = []
        for W, b, pre in group:
            part = next(parts)
            part = part if pre is None else emit_activation(g, pre, part, f"{name}/projection")
            cols.append(g.node("Add", [part, g.initializer(f"{name}/{b}", layer.params[b])], f"{name}/projection/Add"))
        out.append(cols[0] if len(cols) == 1 else g.node("Concat", cols, f"{name}/projection/Concat", axis=-1))
    return out


def emit_loop(layer, ctx, x, mask):
    g, name = ctx.g, layer.name
    xs = emit_projection(layer, g, x)
    state_widths = [s.shape[1] for s in layer.initial_states(1)]
    group_widths = [sum(layer.params[W].shape[1] for W, _, _ in group) for group in layer.projection]

    body = g.subgraph(f"{name}/step")
    state_in = [body.unique(f"{name}/step/state{i}") for i in range(len(state_widths))]
    x_in = [body.unique(f"{name}/step/x{i}") for i in range(len(xs))]
    m_in = None if mask is None else body.unique(f"{name}/step/mask")
    h, state_out, _ = layer.step(OnnxOps(body, f"{name}/step"), x_in, m_in, state_in, _Params(g, layer))

    # Scan needs the unmasked last output: carry it as one more state unless state 0 is h.
    carry_h = not layer.return_sequences and state_out[0] != h
    seq_out = []
    if layer.return_sequences:
        seq_out = [h if h not in state_out else body.node("Identity", [h], f"{name}/step/h")]
    widths = state_widths + ([layer.output_dim] if carry_h else [])
    in_names = state_in + ([body.unique(f"{name}/step/h_prev")] if carry_h else []) + x_in
    in_widths = widths + group_widths
    if m_in is not None:
        in_names.append(m_in)
        in_widths.append(1)
    out_names = list(state_out) + ([h] if carry_h else []) + seq_out
    out_widths = widths + [layer.output_dim] * len(seq_out)
    body.inputs = [helper.make_tensor_value_info(n, g.elem, ["batch", w]) for n, w in zip(in_names, in_widths)]
    body.outputs = [helper.make_tensor_value_info(n, g.elem, ["batch", w]) for n, w in zip(out_names, out_widths)]

    batch = g.node("Shape", [x], f"{name}/Shape")
    batch = g.node("Slice", [batch, g.const([0]), g.const([1])], f"{name}/batch")
    initial = []
    for w in widths:
        shape = g.node("Concat", [batch, g.const([w])], f"{name}/state_shape", axis=0)
        initial.append(g.node("ConstantOfShape", [shape], f"{name}/zeros",
                              value=helper.make_tensor("value", g.elem, [1], [0.0])))
    scan_inputs = list(xs)
    if mask is not None:
        scan_inputs.append(g.node("Unsqueeze", [mask, g.const([-1])], f"{name}/mask"))
    outputs = g.node("Scan", initial + scan_inputs, f"{name}/Scan", outputs=len(out_names),
                     body=body.make_graph(), num_scan_inputs=len(scan_inputs),
                     scan_input_axes=[1] * len(scan_inputs),
                     **({"scan_output_axes": [1]} if seq_out else {}))
    outputs = outputs if isinstance(outputs, list) else [outputs]
    if layer.return_sequences:
        return outputs[-1]
    return outputs[len(widths) - 1] if carry_h else outputs[0]
