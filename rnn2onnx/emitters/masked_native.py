"""Masked layers on native ONNX `LSTM`/`GRU` ops, exact by construction.

Keras's mask rule (SPEC): step t reads the state carried from t-1 times m[t-1], with
m[-1] = 0. So the time axis of each row falls into *segments*: a segment starts at
every step whose incoming state is zero (t = 0, or m[t-1] = 0), runs from a zero state,
and every step in it but its last is unmasked. A native op run on one segment from zero
state computes exactly what the reference computes there: the same cell on the same
inputs and states. The forms below only rearrange inputs and outputs around the op; the
cell math is the native op's, with the weights of native.py (`NATIVE`), or, for single
steps from zero state, the cell's own `step` (reference/recurrent) as in the loop form.

"native-segment" (return_sequences=False): the last output depends only on the segment
  holding step T-1, which starts at s = the last t with a zero incoming state. One
  Gather shifts each row left by s (and makes the input time-major), the op runs with
  sequence_lens = T - s >= 1 (all-masked rows and T = 1 included), and Y at step
  T - 1 - s is the output (a masked last step is covered: its output is computed from
  the state gated by m[T-2], which is what the segment carries). Exact wherever the
  unmasked native form is.

return_sequences=True: a masked step whose incoming state is zero (a "single": all of
  the left padding) is one step from zero state; the singles of the whole batch are
  gathered and run through the cell's own `step` from a zero state (no recurrent
  product). The other ("packed") steps run on the native op, in one of two layouts:

"native-reset": each row keeps its packed steps in order in a packed time axis; where
  a segment follows an earlier one, a *reset* step is inserted before it. The reset
  step reads an extra input column (0 at every real step) whose weights drive the gates
  to exactly 0, so the state after it is exactly zero:
  LSTM: i = f = o = 0 gives c = 0*c + 0*g = 0 and h = 0*act(0) = 0 -- exact when the
    gate activation is exactly 0 at -1e30: hard_sigmoid, relu, and sigmoid
    (onnxruntime's and OpenVINO's LSTM kernels return exactly 0 there);
  GRU (also the JZS1/JZS2 lowerings): z = r = 0 gives h = act(candidate pre-activation,
    in which (0*h)·R = 0); the candidate's extra weight is -b_h, making it exactly 0,
    for activations with act(0) = 0 (tanh, relu, linear), or -1e30 for hard_sigmoid.
    Gates: hard_sigmoid or relu only -- onnxruntime's GRU sigmoid stops near 1e-6
    instead of 0, so a sigmoid-gated GRU never uses a reset step.
"native-rows": every segment of packed steps becomes a batch row of its own (its steps
  are consecutive in the flattened input, so one Gather builds the op's input), with
  sequence_lens = its length. No reset step: exact for every activation; but the op's
  batch grows with the number of segments (fast at batch 1, slow at larger batches).

The rules of the later Keras releases (reference/recurrent/rules.py) need no segments:
the *carry* rule (Keras 0.3.2 and later, mask_rule="carry"): a masked step outputs the
previous output (zeros before the first unmasked step) and keeps the states. So each row's
outputs are the cell run on its unmasked steps only, the last output repeated at masked
steps, and go_backwards processes the steps from the last to the first (outputs in
processing order, as Theano's scan returns them).

"native-carry": one Gather packs each row's unmasked steps, in order, to the front of
  the op's (time-major) input: their order comes from a TopK over the keys j (unmasked)
  and T + j (masked) of the steps j. (A go_backwards layer's input and mask arrive
  reversed: recurrent.py.) The op runs with sequence_lens = the row's count of
  unmasked steps (at least 1: an all-masked row runs one step whose output is never
  read, so nothing depends on what a runtime does with a length 0). The output at
  step j is Y at packed index c_j - 1, c_j the row's unmasked steps up
  to j (return_sequences=False: j = T-1, c = the count), and zeros where c_j = 0. No reset
  step, no single steps: exact wherever the unmasked native form is.
The carry_zero rule (tf.keras's zero_output_for_mask=True) runs the carry form and reads
  0 at the masked steps instead.
"native-skip": the same for Keras 0.3.0's and 0.3.1's rules (mask_rule "skip_batch",
  "skip_sample"; read only with return_sequences=True): the input is multiplied by the
  mask, the steps that count are those whose masked input is not all zero (over the
  whole batch for skip_batch, so a masked row runs those steps on zero input), and a
  step that does not count outputs 0.
"""
import numpy as np
from onnx import TensorProto, helper

from ..graph import OnnxOps, Prefixed
from .loop import _Params, emit_projection
from .native import NATIVE, native_node

RESET = -1e30  # pre-activation of a gate at a reset step: every gate activation used maps it to exactly 0
# gate (inner) activations that map RESET to exactly 0, per native op (see the module docstring)
RESET_GATES = {"LSTM": ("hard_sigmoid", "relu", "sigmoid"), "GRU": ("hard_sigmoid", "relu")}
# GRU candidate activations: act(0) = 0 (extra weight -b_h), or act(RESET) = 0
ZERO_AT_ZERO, ZERO_AT_RESET = ("tanh", "relu", "linear"), ("hard_sigmoid",)


def why_not_reset(layer):
    """None when the reset form is exact for this (natively exportable) layer, else why."""
    op = NATIVE[type(layer).__name__][0]
    gates = RESET_GATES.get(op)
    if gates is None:
        return f"no reset step is known for ONNX {op}"
    if layer.inner_activation.name not in gates:
        return (f"a reset step of ONNX {op} is exact only with {' or '.join(gates)} gates, "
                f"not {layer.inner_activation.name!r} (the gate must reach exactly 0)")
    if op == "GRU" and layer.activation.name not in ZERO_AT_ZERO + ZERO_AT_RESET:
        return (f"a reset step of ONNX GRU needs a candidate activation that can be exactly 0 "
                f"({', '.join(ZERO_AT_ZERO + ZERO_AT_RESET)}), not {layer.activation.name!r}")
    return None


def reset_column(layer, B):
    """The extra input column's weights (gates*k,), in ONNX gate order."""
    op, k = NATIVE[type(layer).__name__][0], layer.output_dim
    if op == "LSTM":  # i, o, f to RESET; the cell candidate (c) is multiplied by i = 0
        return np.concatenate([np.full(3 * k, RESET), np.zeros(k)])
    b_h = B[0, 2 * k:3 * k]  # z, r to RESET; h: pre-activation exactly 0, or RESET
    h = -b_h if layer.activation.name in ZERO_AT_ZERO else np.full(k, RESET)
    return np.concatenate([np.full(2 * k, RESET), h])


# ---------------------------------------------------------------------------------------
# index arithmetic on the (batch, time) mask, int64


class _Index(Prefixed):
    """Small int64 helpers over graph `g`, nodes named under `prefix`."""

    def c(self, v):
        return self.g.const(v)

    def reduce_max(self, x, axes, keepdims=0):
        return self.g.reduce_max(x, axes, f"{self.prefix}/ReduceMax", keepdims=keepdims)

    def zero_incoming(self, mask):
        """(m as int64, Z): Z[i, t] = 1 where step t's incoming state is zero (t = 0 or m[t-1] = 0)."""
        m = self("Cast", [mask], to=TensorProto.INT64)
        head = self("Slice", [m, self.c([0]), self.c([-1]), self.c([1])])
        prev = self("Pad", [head, self.c([0, 1, 0, 0])])  # m[t-1], 0 at t = 0
        return m, self("Sub", [self.c(1), prev])

    def dims(self, m):
        """(n, T) scalars of the (n, T) mask."""
        shape = self("Shape", [m])
        return self("Gather", [shape, self.c(0)]), self("Gather", [shape, self.c(1)])

    def range(self, end):
        """0, 1, ..., end - 1."""
        return self("Range", [self.c(0), end, self.c(1)])

    def singles(self, mask):
        """How the return_sequences=True forms split the steps: (m, Z, n, T, single, packed,
        is_packed), (n, T) int64 but is_packed (bool): `single` masked steps with a zero
        incoming state (one step from zero state each), `packed` every other step (on the op)."""
        m, Z = self.zero_incoming(mask)
        n, T = self.dims(m)
        single = self("Mul", [Z, self("Sub", [self.c(1), m])])
        packed = self("Sub", [self.c(1), single])
        return m, Z, n, T, single, packed, self("Cast", [packed], to=TensorProto.BOOL)


def _inputs(layer, g, x):
    """The op's input rows (batch*time, d): x, batch-major, augmented for JZS1, flattened;
    and its ONNX weights."""
    W, R, B, augment = NATIVE[type(layer).__name__][1](layer)
    x = x if augment is None else augment(g, x)
    return g.node("Reshape", [x, g.const([-1, W.shape[2]])], f"{layer.name}/Reshape"), W, R, B


def _step_from_zero(layer, g, rows):
    """Outputs (S, k) of one step from a zero state for input rows (S, d): the loop form's
    projection and the cell's own `step` (reference/recurrent), states (1, width) zeros
    broadcast over the rows."""
    xs = emit_projection(layer, g, rows)
    zeros = [g.const(s, dtype=g.dtype) for s in layer.initial_states(1)]
    h, _, _ = layer.step(OnnxOps(g, f"{layer.name}/singles"), xs, None, zeros, _Params(g, layer))
    return h


def emit_masked_last(layer, ctx, x, mask):
    """The "segment" form (return_sequences=False); see the module docstring."""
    g, name = ctx.g, layer.name
    ix = _Index(g, f"{name}/segment")
    flat, W, R, B = _inputs(layer, g, x)
    m, Z = ix.zero_incoming(mask)
    s = ix("ArgMax", [Z], axis=1, keepdims=0, select_last_index=1)  # the last segment's first step
    n, T = ix.dims(m)
    lens = ix("Cast", [ix("Sub", [T, s])], to=TensorProto.INT32)
    t = ix("Unsqueeze", [ix.range(T), ix.c([1])])  # (T, 1)
    rows = ix.range(n)                             # (n,)
    row_start = ix("Mul", [rows, T])
    # x[i, s_i + t] for t < T - s_i (later steps are past the row's length: any valid index)
    step = ix("Min", [ix("Add", [t, s]), ix("Sub", [T, ix.c(1)])])
    index = ix("Add", [step, row_start])                                   # (T, n)
    xt = g.node("Gather", [flat, index], f"{name}/Gather")
    # Y at each row's last step rather than Y_h: OpenVINO 2026.4's Y_h is not the state at
    # the row's own last step when sequence_lens < T (onnxruntime's is)
    (y,) = native_node(layer, g, xt, W, R, B, seq_lens=lens)
    y = g.node("Reshape", [y, g.const([-1, layer.output_dim])], f"{name}/Reshape")
    last = ix("Add", [ix("Mul", [ix("Sub", [ix("Sub", [T, ix.c(1)]), s]), n]), rows])
    return g.node("Gather", [y, last], f"{name}/Gather")


def emit_masked_sequences(layer, ctx, x, mask):
    """The "reset" form (return_sequences=True); see the module docstring."""
    g, name = ctx.g, layer.name
    ix = _Index(g, f"{name}/reset")
    flat, W, R, B = _inputs(layer, g, x)
    d = W.shape[2]
    m, Z, n, T, single, packed, is_packed = ix.singles(mask)
    seen = ix("CumSum", [packed, ix.c(1)])            # packed steps so far, this one included
    # a reset before a segment start that follows earlier packed steps of the row
    reset = ix("Mul", [ix("Mul", [Z, packed]), ix("Min", [ix("Sub", [seen, ix.c(1)]), ix.c(1)])])
    slots = ix("CumSum", [ix("Add", [packed, reset]), ix.c(1)])
    pos = ix("Sub", [slots, ix.c(1)])                 # packed position of each packed step
    length = ix("Max", [ix.reduce_max(slots, [1]), ix.c(1)])  # >= 1: all-single rows run one idle step
    width = ix.reduce_max(length, None)               # T'
    t_row = ix.range(T)                               # (T,)
    rows = ix("Unsqueeze", [ix.range(n), ix.c([1])])  # (n, 1)

    # packed input: row 0 of `source` is the reset step, row 1 + i*T + t is x[i, t]
    source = g.node("Concat", [g.initializer(f"{name}/reset_step", np.eye(1, d + 1, d)),
                               g.node("Pad", [flat, g.const([0, 0, 0, 1])], f"{name}/Pad")],
                    f"{name}/Concat", axis=0)
    src = ix("Add", [ix("Add", [ix("Mul", [rows, T]), t_row]), ix.c(1)])
    # each step's slot in (n, T' + T): packed steps at pos, the others in slots T' + t (unique)
    slot = ix("Where", [is_packed, pos, ix("Add", [t_row, width])])
    table = ix("ConstantOfShape", [ix("Concat", [ix("Unsqueeze", [n, ix.c([0])]),
                                                 ix("Unsqueeze", [ix("Add", [width, T]), ix.c([0])])], axis=0)],
               value=helper.make_tensor("value", TensorProto.INT64, [1], [0]))
    table = ix("ScatterElements", [table, slot, src], axis=1)
    table = ix("Transpose", [ix("Slice", [table, ix.c([0]), ix("Unsqueeze", [width, ix.c([0])]), ix.c([1])])],
               perm=[1, 0])                           # (T', n); 0 (reset) at resets and past the length
    xp = g.node("Gather", [source, table], f"{name}/Gather")
    W_aug = np.concatenate([W, reset_column(layer, B)[None, :, None]], axis=2)
    W_name, R_name, B_name = (g.initializer(f"{name}/{key}", w) for key, w in (("W", W_aug), ("R", R), ("B", B)))
    (y,) = native_node(layer, g, xp, W_name, R_name, B_name,
                       seq_lens=ix("Cast", [length], to=TensorProto.INT32))

    y_row = ix("Add", [ix("Mul", [pos, n]), rows])  # packed step -> its row of Y, (T' * n, k)
    return _assemble(layer, g, ix, x, m, single, is_packed, y, y_row, ix("Mul", [width, n]))


def emit_masked_rows(layer, ctx, x, mask):
    """The "rows" form (return_sequences=True); see the module docstring."""
    g, name = ctx.g, layer.name
    ix = _Index(g, f"{name}/rows")
    flat, W, R, B = _inputs(layer, g, x)
    m, Z, n, T, single, packed, is_packed = ix.singles(mask)
    start = ix("Mul", [Z, packed])                     # first step of a segment of packed steps
    goes_on = ix("Sub", [packed, start])               # packed, continuing the segment before it
    goes_on_next = ix("Pad", [ix("Slice", [goes_on, ix.c([1]), ix.c([np.iinfo(np.int64).max]), ix.c([1])]),
                              ix.c([0, 0, 0, 1])])
    end = ix("Mul", [packed, ix("Sub", [ix.c(1), goes_on_next])])
    start_flat = ix("Reshape", [start, ix.c([-1])])
    # flat (i*T + t) first and last step of each segment, in order, plus a segment (0, 0)
    # so the op's batch is never empty
    first, last = (ix("Pad", [ix("Reshape", [ix("NonZero", [ix("Reshape", [f, ix.c([-1])])]), ix.c([-1])]),
                              ix.c([0, 1])]) for f in (start, end))
    length = ix("Add", [ix("Sub", [last, first]), ix.c(1)])   # (n',)
    width = ix.reduce_max(length, None)                       # T'
    p = ix("Unsqueeze", [ix.range(width), ix.c([1])])  # (T', 1)
    # (T', n'): a segment's steps are consecutive in the flattened input
    table = ix("Add", [first, ix("Min", [p, ix("Sub", [length, ix.c(1)])])])
    xp = g.node("Gather", [flat, table], f"{name}/Gather")
    (y,) = native_node(layer, g, xp, W, R, B, seq_lens=ix("Cast", [length], to=TensorProto.INT32))

    segment = ix("Reshape", [ix("Sub", [ix("CumSum", [start_flat, ix.c(0)]), ix.c(1)]), ix("Shape", [m])])
    step = ix("Add", [ix("Mul", [ix("Unsqueeze", [ix.range(n), ix.c([1])]), T]), ix.range(T)])
    pos = ix("Sub", [step, ix("Gather", [first, ix("Max", [segment, ix.c(0)])])])  # position in its segment
    count = ix("Gather", [ix("Shape", [first]), ix.c(0)])                          # n'
    y_row = ix("Add", [ix("Mul", [pos, count]), segment])
    return _assemble(layer, g, ix, x, m, single, is_packed, y, y_row, ix("Mul", [width, count]))


def _assemble(layer, g, ix, raw, m, single, is_packed, y, y_row, y_rows):
    """The (n, T, k) output: packed steps from row `y_row` of the op's Y (flattened to
    `y_rows` rows); singles from the cell's own step from a zero state, computed on their
    rows only (plus row 0 of the batch, so those rows are never empty)."""
    name, k = layer.name, layer.output_dim
    single_flat = ix("Reshape", [single, ix.c([-1])])
    picks = ix("Pad", [ix("Reshape", [ix("NonZero", [single_flat]), ix.c([-1])]), ix.c([1, 0])])  # (S+1,)
    raw_flat = g.node("Reshape", [raw, g.const([-1, layer.input_shape[-1]])], f"{name}/Reshape")
    y1 = _step_from_zero(layer, g, g.node("Gather", [raw_flat, picks], f"{name}/Gather"))
    outputs = g.node("Concat", [g.node("Reshape", [y, g.const([-1, k])], f"{name}/Reshape"), y1],
                     f"{name}/Concat", axis=0)
    # single: row y_rows + its 1-based rank among the singles
    rank = ix("Reshape", [ix("CumSum", [single_flat, ix.c(0)]), ix("Shape", [m])])
    return g.node("Gather", [outputs, ix("Where", [is_packed, y_row, ix("Add", [y_rows, rank])])], f"{name}/Gather")


def emit_packed(layer, ctx, x, mask, with_states=False, initial=None):
    """The "carry" and "skip" forms (rules after Keras 0.2.0); see the module docstring.
    with_states (return_state, the carry rules): (output, [final states]): h is the output
    at each row's last unmasked step (0 for an all-masked row), c (LSTM) the op's Y_c, the
    state at each row's own sequence_lens (onnxruntime), zeroed for an all-masked row (which
    the op ran for one step). `initial` (the carry rules): the given initial states, the
    op's initial_h/initial_c (each row's packed steps start from its own); an all-masked
    row's final states are then the given ones, its outputs still 0 (rules.Carry.merge)."""
    g, name = ctx.g, layer.name
    carry = layer.mask_rule in ("carry", "carry_zero")
    ix = _Index(g, f"{name}/{'carry' if carry else 'skip'}")
    if carry:
        real = ix("Cast", [mask], to=TensorProto.BOOL)
    else:  # the steps whose masked input is not all zero: in the row, or anywhere in the batch
        x = g.node("Mul", [x, g.node("Unsqueeze", [g.node("Cast", [mask], f"{name}/Cast", to=g.elem), g.const([-1])],
                                    f"{name}/Unsqueeze")], f"{name}/Mul")
        nonzero = ix("Cast", [ix("Not", [ix("Equal", [x, g.scalar(0.0)])])], to=TensorProto.INT64)
        per_step = ix.reduce_max(nonzero, [-1] if layer.mask_rule == "skip_sample" else [0, -1], keepdims=1)
        real = ix("Cast", [ix("Expand", [ix("Squeeze", [per_step, ix.c([-1])]), ix("Shape", [mask])])],
                  to=TensorProto.BOOL)
    flat, W, R, B = _inputs(layer, g, x)
    m = ix("Cast", [real], to=TensorProto.INT64)
    n, T = ix.dims(m)
    j = ix.range(T)                                               # (T,)
    count = ix("ReduceSum", [m, ix.c([1])], keepdims=0)           # (n,)
    lens = ix("Max", [count, ix.c(1)])
    # the op's time axis: the longest row, at least 1, at most T (0 for 0 timesteps, which
    # the empty-input guard answers; the Concat keeps the ReduceMax off an empty batch)
    width = ix("Min", [ix.reduce_max(ix("Concat", [lens, ix.c([1])], axis=0), [0], keepdims=1),
                       ix("Unsqueeze", [T, ix.c([0])])])
    key = ix("Where", [real, j, ix("Add", [j, T])])               # the steps that count first, in order
    _, order = g.node("TopK", [key, width], f"{ix.prefix}/TopK", outputs=2, axis=1, largest=0, sorted=1)
    rows = ix("Unsqueeze", [ix.range(n), ix.c([1])])              # (n, 1)
    index = ix("Transpose", [ix("Add", [order, ix("Mul", [rows, T])])], perm=[1, 0])  # (width, n)
    xt = g.node("Gather", [flat, index], f"{name}/Gather")
    states = ("Y_c",) if with_states and layer.state_count == 2 else ()
    (y, *y_c) = native_node(layer, g, xt, W, R, B, seq_lens=ix("Cast", [lens], to=TensorProto.INT32),
                            outputs=("Y",) + states, initial=initial)
    k = layer.output_dim
    if not layer.return_sequences:  # (the skip rules read no mask without return_sequences: never here)
        return _carry_last(layer, g, ix, y, y_c, m, n, count, lens, width, with_states, initial)
    seen = ix("CumSum", [m, ix.c(1)])                             # (n, T): counted steps up to j
    # n rows in front of Y: what a row outputs before its first counted step (carry: the
    # given h with initial_output="state", else 0) and at a step the rule does not count;
    # then Y, packed index p of row i at row n + p*n + i
    if initial and layer.mask_rule == "carry" and layer.initial_output == "state":
        front = initial[0]
    else:
        front = g.node("Expand", [g.const(np.zeros((1, k)), dtype=g.dtype),
                                  ix("Concat", [ix("Unsqueeze", [n, ix.c([0])]), ix.c([k])], axis=0)],
                       f"{name}/front")
    y = g.node("Concat", [front, g.node("Reshape", [y, g.const([-1, k])], f"{name}/Reshape")], f"{name}/Concat",
               axis=0)
    # carry: the latest counted step (the front before the first); skip and carry_zero
    # (tf.keras's zero_output_for_mask): counted steps only
    at = ix("Mul", [seen if layer.mask_rule == "carry" else ix("Mul", [m, seen]), n])
    out = g.node("Gather", [y, ix("Add", [at, rows])], f"{name}/Gather")
    if not with_states:
        return out
    some = ix("Min", [count, ix.c(1)])  # (n,): 0 for an all-masked row
    # the carried h: the last counted output (an all-masked row: its front row)
    finals = [g.node("Gather", [y, ix("Add", [ix("Mul", [count, n]), ix.range(n)])], f"{name}/Gather")]
    return out, _final_states(layer, g, finals, y_c, some, initial)


def _carry_last(layer, g, ix, y, y_c, m, n, count, lens, width, with_states, initial):
    """emit_packed's return_sequences=False end (the carry rules): each row's output read
    in place from the op's Y (no copy of Y: only the n rows read are gathered), at its last
    op step lens - 1 (an all-masked row: its idle step, not read), then picked from a small
    table with what a row outputs before its first counted step in front: one zero row, or
    (carry, initial_output="state") the given h of each row."""
    name, k = layer.name, layer.output_dim
    rows = ix.range(n)
    last = ix("Add", [ix("Mul", [ix("Sub", [lens, ix.c(1)]), n]), rows])
    # none with 0 timesteps: the op ran no step, its Y is empty (and an index into it fails)
    last = ix("Slice", [last, ix.c([0]), ix("Mul", [ix("Min", [width, ix.c(1)]), n])])
    y = g.node("Reshape", [y, g.const([-1, k])], f"{name}/Reshape")  # packed index p of row i at p*n + i
    outs = g.node("Gather", [y, last], f"{name}/Gather")
    some = ix("Min", [count, ix.c(1)])  # (n,): 0 for an all-masked row
    # carry_zero (tf.keras's zero_output_for_mask): 0 also where the last step is masked
    read = some if layer.mask_rule == "carry" else ix(
        "Squeeze", [ix("Slice", [m, ix.c([-1]), ix.c([np.iinfo(np.int64).max]), ix.c([1])]), ix.c([1])])
    if initial and layer.mask_rule == "carry" and layer.initial_output == "state":
        table = g.node("Concat", [initial[0], outs], f"{name}/Concat", axis=0)  # row i: the given h; n + i: Y

        def pick(r):  # row i where r = 0, else Y's
            return g.node("Gather", [table, ix("Add", [ix("Mul", [r, n]), rows])], f"{name}/Gather")
    else:
        table = g.node("Concat", [g.const(np.zeros((1, k)), dtype=g.dtype), outs], f"{name}/Concat", axis=0)

        def pick(r):  # the zero row where r = 0, else Y's
            return g.node("Gather", [table, ix("Mul", [r, ix("Add", [rows, ix.c(1)])])], f"{name}/Gather")
    out = pick(read)
    if not with_states:
        return out
    # the carried h: the last counted output (an all-masked row: its front row)
    finals = [out if layer.mask_rule == "carry" else pick(some)]
    return out, _final_states(layer, g, finals, y_c, some, initial)


def _final_states(layer, g, finals, y_c, some, initial):
    """[h, c (LSTM)]: `finals` holds h; c is the op's Y_c, zeroed for an all-masked row
    (`some` = 0: the op ran it for one step); with `initial`, an all-masked row keeps the
    given states."""
    name = layer.name
    if y_c:
        c = g.node("Squeeze", [y_c[0], g.const([0])], f"{name}/Squeeze")
        finals.append(g.node("Mul", [c, g.node("Unsqueeze", [g.node("Cast", [some], f"{name}/Cast", to=g.elem),
                                                             g.const([1])], f"{name}/Unsqueeze")], f"{name}/Mul"))
    if initial:  # an all-masked row keeps the given states
        counted = g.node("Unsqueeze", [g.node("Cast", [some], f"{name}/Cast", to=TensorProto.BOOL), g.const([1])],
                         f"{name}/Unsqueeze")
        finals = [g.node("Where", [counted, f, s], f"{name}/Where") for f, s in zip(finals, initial)]
    return finals
