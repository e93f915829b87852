"""The native forms: ONNX `LSTM`, `GRU` and `RNN` ops, and exact lowerings onto them.

Each `*_weights(layer)` returns (W, R, B, extra input transform or None) in ONNX's
layout: W (1, gates*k, d), R (1, gates*k, k), B (1, 2*gates*k) with the recurrent
bias zero (Keras has one bias per gate), except GRU(reset_after=True) (Keras 2.1.5+),
whose recurrent biases are ONNX's Rb and whose cell is ONNX GRU's linear_before_reset=1:
h~ = act(x·W_h + Wb_h + r * (h·R_h + Rb_h)), exactly Keras's
act(x·W_h + b_h + r * (h·U_h + bU_h)).

JZS1 and JZS2 are GRUs in disguise when their gate activation g is point-symmetric
(1 - g(a) = g(-a): sigmoid, hard_sigmoid): their update h = z*hh + (1-z)*h_prev is
GRU's with z' = 1 - z = g(-a_z), so the z weights are negated. JZS2's reset gate
reads X·P, so P is its input weight; JZS1's candidate reads tanh(X·P), so the GRU
gets the input [X, tanh(X·P)] and an identity block for it.
"""
import numpy as np

from reference.activations import ACTIVATIONS
from reference.untrusted import quote

POINT_SYMMETRIC = ("sigmoid", "hard_sigmoid")

# Each activation's name, alpha and beta inside the RNN ops (or why not used): its `native`
# and `native_refusal` in the table of reference/activations.py. Which of them a target's
# native ops may keep, and whether it uses the masked, reverse and bidirectional native
# forms: its record (rnn2onnx/targets.py), applied by why_not_native, why_not_masked_native,
# reverse_direction and native_node.


def _stack(blocks):
    """Keras (in, k) blocks -> ONNX (1, gates*k, in)."""
    return np.concatenate([b.T for b in blocks], axis=0)[None]


def _bias(biases, recurrent=None):
    b = np.concatenate(biases)
    return np.concatenate([b, np.zeros_like(b) if recurrent is None else np.concatenate(recurrent)])[None]


def lstm_weights(layer):
    p = layer.params
    order = "iofc"  # ONNX gate order; Keras stores i, c, f, o
    return (_stack([p[f"W_{q}"] for q in order]), _stack([p[f"U_{q}"] for q in order]),
            _bias([p[f"b_{q}"] for q in order]), None)


def gru_weights(layer):
    p = layer.params
    recurrent = [p[f"bU_{q}"] for q in "zrh"] if getattr(layer, "reset_after", False) else None
    return (_stack([p[f"W_{q}"] for q in "zrh"]), _stack([p[f"U_{q}"] for q in "zrh"]),
            _bias([p[f"b_{q}"] for q in "zrh"], recurrent), None)


def jzs2_weights(layer):
    p = layer.params
    return (_stack([-p["W_z"], p["P"], p["W_h"]]), _stack([-p["U_z"], p["U_r"], p["U_h"]]),
            _bias([-p["b_z"], p["b_r"], p["b_h"]]), None)


def jzs1_weights(layer):
    p, k = layer.params, layer.output_dim
    d = p["W_z"].shape[0]
    zeros_d, zeros_k = np.zeros((d, k)), np.zeros((k, k))
    W = _stack([np.vstack([-p["W_z"], zeros_k]), np.vstack([p["W_r"], zeros_k]),
                np.vstack([zeros_d, np.identity(k)])])
    R = _stack([zeros_k, p["U_r"], p["U_h"]])

    def augment(g, x):  # [X, tanh(X·P)]
        xp = g.node("MatMul", [x, g.initializer(f"{layer.name}/P", p["P"])], f"{layer.name}/MatMul")
        return g.node("Concat", [x, g.node("Tanh", [xp], f"{layer.name}/Tanh")], f"{layer.name}/Concat", axis=-1)

    return W, R, _bias([-p["b_z"], p["b_r"], p["b_h"]]), augment


# layer class -> (ONNX op, weight function, activations as a function of the layer)
NATIVE = {
    "LSTM": ("LSTM", lstm_weights, lambda l: [l.inner_activation, l.activation, l.activation]),
    "GRU": ("GRU", gru_weights, lambda l: [l.inner_activation, l.activation]),
    "JZS1": ("GRU", jzs1_weights, lambda l: [l.inner_activation, l.activation]),
    "JZS2": ("GRU", jzs2_weights, lambda l: [l.inner_activation, l.activation]),
    "SimpleRNN": ("RNN", lambda l: (_stack([l.params["W"]]), _stack([l.params["U"]]), _bias([l.params["b"]]), None),
                  lambda l: [l.activation]),
}


def why_not_native(layer, target):
    """None when the layer has an exact native form for `target`, else the reason."""
    kind = type(layer).__name__
    if kind not in NATIVE:
        return f"{kind} has no native ONNX op"
    if getattr(layer, "combine", "add") != "add":
        return f"{kind} with combine={layer.combine!r} (Keras 0.3.0's cell) has no native ONNX op"
    if kind in ("JZS1", "JZS2") and layer.inner_activation.name not in POINT_SYMMETRIC:
        return (f"{kind} lowers to GRU only when its inner_activation is point-symmetric "
                f"(sigmoid, hard_sigmoid), not {layer.inner_activation.name!r}")
    op, activations = NATIVE[kind][0], NATIVE[kind][2](layer)
    acts = [a.name for a in activations]
    for a in activations:
        if a.native_refusal is not None:
            return f"activation {a.name!r}: {a.native_refusal}"
        if a.native is None:
            native = ", ".join(name for name, b in ACTIVATIONS.items() if b.native is not None)
            return f"activation {quote(a.name)} is not one of the ONNX native RNN activations ({native})"
    allowed = target.native_activations
    if allowed is not None and tuple(acts) != allowed[op]:
        return (f"the {target.name} target keeps a native op only with the activations "
                f"{', '.join(allowed[op])} ({target.native_activations_why}), not {', '.join(acts)}")
    return None


def reverse_direction(layer, target):
    """Whether a go_backwards layer's native op runs in direction="reverse": exact without
    return_sequences (its Y_h is the state after the first timestep, the last processed);
    with return_sequences its Y is in time order, Keras's output in processing order, so the
    op runs forward on the reversed input instead (emitters/recurrent.py), as it does on
    a target without native_reverse (tract ignores the direction)."""
    return layer.go_backwards and not layer.return_sequences and target.native_reverse


def why_not_masked_native(target):
    """None when the masked native forms may be used for `target` (a record), else the reason."""
    return target.masked_native_refusal


def native_node(layer, g, xt, W, R, B, seq_lens=None, outputs=("Y",), direction="forward", initial=None):
    """Append the layer's native op reading time-major `xt` with weights (W, R, B): arrays,
    or names of initializers already made (and per-row `seq_lens`, int32). `initial`: the
    given initial states (h, then c for LSTM; (batch, k) each), one direction only. Returns
    the requested outputs ("Y", "Y_h", "Y_c"); the others are left unnamed so the op need
    not produce them."""
    name, op, _, acts = layer.name, *NATIVE[type(layer).__name__]
    acts = acts(layer)
    names, alphas, betas = zip(*(a.native for a in acts))
    names = list(names)
    directions = 2 if direction == "bidirectional" else 1  # both directions: one cell's weights stacked
    attrs = dict(hidden_size=layer.output_dim, activations=names * directions)
    if direction != "forward":
        attrs["direction"] = direction
    # onnxruntime consumes alpha/beta in order, one per activation that takes them
    if any(a is not None for a in alphas):
        attrs["activation_alpha"] = [a for a in alphas if a is not None] * directions
        attrs["activation_beta"] = [b for b in betas if b is not None] * directions
    if op == "GRU":
        attrs["linear_before_reset"] = int(getattr(layer, "reset_after", False))
    inputs = [xt] + [w if isinstance(w, str) else g.initializer(f"{name}/{key}", w)
                     for key, w in (("W", W), ("R", R), ("B", B))]
    # (with fixed shapes only for an op on the model's own batch: the masked forms' ops,
    # which take `seq_lens`, may run on more rows, one per mask segment)
    explicit_states = g.target.explicit_initial_states or (g.fixed_batch is not None and seq_lens is None)
    if seq_lens is not None or explicit_states or initial:
        inputs.append(seq_lens or "")
    if initial:  # initial_h (and initial_c): (num_directions = 1, batch, k)
        inputs += [g.node("Unsqueeze", [s, g.const([0])], f"{name}/initial_state") for s in initial]
    elif explicit_states:  # for tract and onnx2tf; costs onnxruntime ~2% at batch 1 (targets.py)
        # zero initial_h (and initial_c), (1, batch, k): the op's default, given explicitly
        # because tract panics on a symbolic batch without them, and onnx2tf cannot convert
        # an LSTM without them ("An `initial_state` was passed that is not compatible")
        inputs += g.batch_zeros(xt, 1, [layer.output_dim], name, lead=(directions,)) * (2 if op == "LSTM" else 1)
    slots = ["Y", "Y_h"] + (["Y_c"] if "Y_c" in outputs else [])  # (an output not asked for: "")
    out = dict(zip(slots, g.node(op, inputs, f"{name}/{op}", outputs=[s if s in outputs else None for s in slots],
                                 **attrs)))
    return [out[o] for o in outputs]


def state_outputs(layer):
    """The native op's outputs holding the final states a return_state layer returns."""
    return ("Y_h", "Y_c")[:layer.state_count] if getattr(layer, "return_state", False) else ()


def emit_native(layer, ctx, x, with_states=False, initial=None):
    """The layer's output; with_states: (output, [final states]) (return_state: Y_h, Y_c).
    `initial`: the given initial states (see native_node)."""
    g, name = ctx.g, layer.name
    W, R, B, augment = NATIVE[type(layer).__name__][1](layer)
    if augment is not None:
        x = augment(g, x)
    xt = g.node("Transpose", [x], f"{name}/Transpose", perm=[1, 0, 2])
    states = state_outputs(layer) if with_states else ()
    if layer.return_sequences:
        y, *finals = native_node(layer, g, xt, W, R, B, outputs=("Y",) + states, initial=initial)
        y = g.node("Squeeze", [y, g.const([1])], f"{name}/Squeeze")
        y = g.node("Transpose", [y], f"{name}/Transpose", perm=[1, 0, 2])
    else:
        outputs = ("Y_h",) + tuple(s for s in states if s != "Y_h")
        y_h, *rest = native_node(layer, g, xt, W, R, B, outputs=outputs,
                                 direction="reverse" if reverse_direction(layer, g.target) else "forward",
                                 initial=initial)
        y = g.node("Squeeze", [y_h, g.const([0])], f"{name}/Squeeze")
        if with_states:  # the output is the final h
            return y, [y] + [g.node("Squeeze", [s, g.const([0])], f"{name}/Squeeze") for s in rest]
        return y
    if not with_states:
        return y
    return y, [g.node("Squeeze", [s, g.const([0])], f"{name}/Squeeze") for s in finals]
