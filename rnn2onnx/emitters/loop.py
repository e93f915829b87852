"""The loop form: any reference recurrent cell as an ONNX `Scan` (or, on request, `Loop`).

The graph is:

  projection  X·W_all (+ pre-activations) + b, all timesteps in one MatMul
  step body   the cell's own `step` (reference/recurrent), emitted through OnnxOps:
              only the recurrent part runs per step, weights read from the outer scope
  wrapper     `Scan` (default): no Gather or loop condition in the body, so each step
              costs fewer nodes. For target="onnxruntime" (Target.time_major_scan) the
              layer's input (and mask) is made time-major first and the Scan runs over axis 0: onnxruntime's Scan
              copies every scan input whose axis is not 0 into time-major order at each
              run, one copy per projection group (JZS3 at batch 1, T 50, one thread:
              0.96-0.97x the time with the one Transpose of the input instead); the
              portable target's Scan runs over axis 1 of the batch-major projection;
              `Loop` (loop_op="loop", for consumers without Scan): the same body behind
              a Gather of step t from each per-step input, the outputs stacked on axis 0.

`build_step` builds the body once; `wrap_scan` / `wrap_loop` only add the wrapper.

For target="portable" (Target.strict_loop_body, rnn2onnx/targets.py) the body is one
every runtime we test accepts (tract 0.23.9 is the strictest; each rule costs onnxruntime
time, so target="onnxruntime" keeps the faster body):
  - body inputs carry no named dimension: tract unifies a body's `batch` with the outer
    batch and fails ("Impossible to unify Sym(batch) with Val(3)"). onnxruntime runs a
    body whose inputs have a named batch 1.0-1.6x faster at batch 1 (measured), so the
    onnxruntime target keeps the name;
  - a per-step output that the body also reads goes through an `Identity`: tract infers
    a wrong shape for a tensor that is both a scan output and consumed in the body;
  - every state input is read by the body: tract's "discard unused input" pass breaks
    the Scan otherwise. The last unmasked output (needed when `return_sequences` is off
    and state 0 is not the output: a mask, or SimpleDeepRNN's lag buffer) is taken from
    the per-step outputs; the onnxruntime target carries it as one more (unread) state.
"""
from dataclasses import dataclass

from onnx import TensorProto, helper

from ..graph import OnnxOps

LOOP_OPS = ("scan", "loop")


class _Params(dict):
    """Initializers created on first use, so the graph holds only what the step reads."""

    def __init__(self, g, layer):
        super().__init__()
        self.g, self.layer, self.arrays = g, layer, layer.fused_params()

    def __missing__(self, key):
        self[key] = self.g.initializer(f"{self.layer.name}/{key}", self.arrays[key])
        return self[key]


def emit_projection(layer, g, x):
    """Per-step inputs of every projection group, shape (batch, time, width): the layer's
    own `project` (reference/recurrent/base.py) through OnnxOps."""
    xs, _ = layer.project(OnnxOps(g, f"{layer.name}/projection"), x, _Params(g, layer))
    return xs


@dataclass
class Step:
    """One step of a cell as body nodes, before any wrapper: the body graph (no inputs or
    outputs declared yet), its state inputs/outputs, per-step inputs, and per-step outputs
    (the h sequence, or h itself when only the last one is wanted)."""

    body: object
    state_in: list
    state_out: list
    state_widths: list
    step_in: list          # per-step inputs: projection groups, then the mask column
    step_in_widths: list
    step_out: list         # per-step outputs (0 or 1 of them): h
    output_dim: int
    last_output: str       # where the last output is: "state0", "state-1" (carried h) or "step"
    strict: bool           # a body every runtime accepts (Target.strict_loop_body; see the docstring)
    gated: bool = False    # the last per-step input is a mask rule's bool gate


def build_step(layer, g, n_groups, masked, own_output=False):
    """The cell's step under the layer's mask rule (reference/recurrent/rules.py) as a body
    graph under `g` (see `Step`). `masked`: the per-step inputs end with the mask column
    (the reset rule, which the cell applies) or the rule's gate (bool; the other rules).
    `own_output`: the previous output is a state of its own (rules.Carry.merge)."""
    name, rule = layer.name, layer.rule
    state_widths = [s.shape[1] for s in layer.initial_states(1)]
    group_widths = [sum(layer.params[W].shape[1] for W, _, _ in group) for group in layer.projection]
    body = g.subgraph(f"{name}/step")
    state_in = [body.unique(f"{name}/step/state{i}") for i in range(len(state_widths))]
    x_in = [body.unique(f"{name}/step/x{i}") for i in range(n_groups)]
    m_in = body.unique(f"{name}/step/{'gate' if rule.merges else 'mask'}") if masked else None
    o = OnnxOps(body, f"{name}/step")
    h, state_out, _ = layer.step(o, x_in, rule.step_mask(m_in) if masked else None, state_in, _Params(g, layer))
    if masked and rule.merges:
        output = None
        if rule.needs_output and (own_output or not rule.output_is_state(h, state_out)):
            output = body.unique(f"{name}/step/output")
        h, state_out = rule.merge(o, m_in, h, state_out, state_in, output, own_output=own_output)
        if output is not None:  # the previous output, one more state
            state_in, state_out = state_in + [output], list(state_out) + [h]
            state_widths = state_widths + [layer.output_dim]
    state_out = list(state_out)

    strict = g.target.strict_loop_body
    read_in_body = h in state_out or any(h in n.input for n in body.nodes)
    step_out, last_output = [], "state0"
    if not layer.return_sequences and state_out[-1] == h != state_out[0]:
        last_output = "state-1"  # the carried previous output
    elif layer.return_sequences or (strict and state_out[0] != h):
        # a per-step output the body also reads: through an Identity (distinct names;
        # and for tract, whatever reads it)
        needs_identity = h in state_out or (strict and read_in_body)
        step_out = [body.node("Identity", [h], f"{name}/step/h") if needs_identity else h]
        last_output = "step"
    elif state_out[0] != h:  # carry the unmasked last output as one more state (unread)
        state_in.append(body.unique(f"{name}/step/h_prev"))
        state_out.append(h)
        state_widths = state_widths + [layer.output_dim]
        last_output = "state-1"
    step_in = x_in + ([m_in] if masked else [])
    return Step(body, state_in, state_out, state_widths, step_in, group_widths + ([1] if masked else []),
                step_out, layer.output_dim, last_output, strict,
                gated=masked and rule.merges)


def _value_infos(step, g, names, widths, elems=None):
    batch = None if step.strict else "batch"  # see the module docstring
    return [helper.make_tensor_value_info(n, elem, [batch if elem == g.elem else None, w])
            for n, w, elem in zip(names, widths, elems or [g.elem] * len(names))]


def _step_in_infos(step, g):
    """Value infos of the per-step inputs: a rule's gate is bool, with a batch of 1 when
    it is one flag for the whole batch (Keras 0.3.0), hence no named batch."""
    elems = [g.elem] * len(step.step_in)
    if step.gated:
        elems[-1] = TensorProto.BOOL
    return _value_infos(step, g, step.step_in, step.step_in_widths, elems)


def wrap_scan(step, g, name, initial, step_inputs, axis=1):
    """Scan over axis `axis` (the time axis) of `step_inputs` from states `initial`: (final
    states, per-step outputs (time on `axis`, k last), time axis)."""
    body = step.body
    body.inputs = _value_infos(step, g, step.state_in, step.state_widths) + _step_in_infos(step, g)
    body.outputs = _value_infos(step, g, step.state_out + step.step_out,
                                step.state_widths + [step.output_dim] * len(step.step_out))
    n_out = len(body.outputs)
    axes = {} if axis == 0 else {"scan_input_axes": [axis] * len(step_inputs),
                                 **({"scan_output_axes": [axis]} if step.step_out else {})}
    outputs = g.node("Scan", initial + step_inputs, f"{name}/Scan",
                     outputs=n_out, body=body.make_graph(), num_scan_inputs=len(step_inputs), **axes)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return outputs[:len(step.state_out)], outputs[len(step.state_out):], axis


def wrap_scan_time_major(step, g, name, initial, step_inputs):
    """wrap_scan over axis 0: `step_inputs` are (time, batch, width)."""
    return wrap_scan(step, g, name, initial, step_inputs, axis=0)


def wrap_loop(step, g, name, initial, step_inputs):
    """Loop over the time steps from states `initial`: the body gathers step t of each of
    `step_inputs` (read from the outer scope); (final states, per-step outputs
    (time, batch*k) (see `loop_steps`), time axis).

    The Loop gets its `cond` input (true), optional in the spec: onnx's ReferenceEvaluator
    runs a Loop without it zero times, and onnx2tf fails on the empty input name."""
    body = step.body
    t, cond_in = body.unique(f"{name}/step/t"), body.unique(f"{name}/step/cond")
    # prepend the Gathers of step t: they must precede the nodes that read the slices
    gathers = []
    for full, sliced in zip(step_inputs, step.step_in):
        body.node("Gather", [full, t], f"{sliced}/Gather", output_names=[sliced], into=gathers, axis=1)
    body.nodes[:0] = gathers
    cond_out = body.node("Identity", [cond_in], f"{name}/step/cond_out")
    # per-step outputs leave the body with rank 1 (batch*k): the spec says a Loop's scan
    # outputs are "concatenated", which onnxruntime and OpenVINO read as stacked on a new
    # axis 0 and onnx's ReferenceEvaluator as np.vstack; for rank-1 values both agree
    flat = [body.node("Reshape", [h, g.const([-1])], f"{name}/step/h_flat") for h in step.step_out]
    body.inputs = ([helper.make_tensor_value_info(t, TensorProto.INT64, []),
                    helper.make_tensor_value_info(cond_in, TensorProto.BOOL, [])]
                   + _value_infos(step, g, step.state_in, step.state_widths))
    body.outputs = ([helper.make_tensor_value_info(cond_out, TensorProto.BOOL, [])]
                    + _value_infos(step, g, step.state_out, step.state_widths)
                    + [helper.make_tensor_value_info(f, g.elem, [None]) for f in flat])
    shape = g.node("Shape", [step_inputs[0]], f"{name}/Shape")
    trips = g.node("Gather", [shape, g.const(1)], f"{name}/time", axis=0)
    outputs = g.node("Loop", [trips, g.const(True, dtype=bool)] + initial, f"{name}/Loop",
                     outputs=len(body.outputs) - 1, body=body.make_graph())
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return outputs[:len(step.state_out)], outputs[len(step.state_out):], 0


WRAPPERS = {"scan": wrap_scan, "loop": wrap_loop}


def emit_loop(layer, ctx, x, mask, wrap=None, with_states=False, initial=None):
    """`x` and `mask` as the layer reads them: emitters/recurrent.py has reversed them for a
    go_backwards layer and dropped a mask its rule ignores. `wrap`: what runs the step over
    time, a WRAPPERS-like function (default: the wrapper ctx.loop_op names;
    emitters/unrolled.py passes its own). with_states: (output, [the cell's final states])
    (return_state: the loop's first state outputs are the cell's carried states).
    `initial`: the cell's given initial states ((batch, k) each), else zeros."""
    if with_states:
        y, states = _emit_loop(layer, ctx, x, mask, wrap, initial)
        return y, states[:len(layer.initial_states(1))]
    return _emit_loop(layer, ctx, x, mask, wrap, initial)[0]


def _emit_loop(layer, ctx, x, mask, wrap, given=None):
    g, name, rule = ctx.g, layer.name, layer.rule
    if wrap is None:
        wrap = WRAPPERS[ctx.loop_op]
        if wrap is wrap_scan and g.target.time_major_scan:  # see the module docstring
            wrap = wrap_scan_time_major
    time_major = wrap is wrap_scan_time_major
    batch_axis = 1 if time_major else 0  # of x and the mask
    if time_major:
        x = g.node("Transpose", [x], f"{name}/time_major", perm=[1, 0, 2])
        if mask is not None:
            mask = g.node("Transpose", [mask], f"{name}/mask_time_major", perm=[1, 0])
    if mask is not None:
        mask = g.node("Unsqueeze", [mask, g.const([-1])], f"{name}/mask")
        if rule.masks_input:
            x = g.node("Mul", [x, mask], f"{name}/masked_input")
    xs = emit_projection(layer, g, x)
    # given states: the previous output starts at 0 on its own (rules.Carry.merge), unless
    # the release outputs the given h there (Recurrent's initial_output)
    step = build_step(layer, g, len(xs), mask is not None,
                      own_output=bool(given) and layer.initial_output == "zero")
    # the cell's states from zeros or as given; the step's further states (the previous
    # output some rules carry) from zeros
    given = list(given or [])
    initial = given + (g.batch_zeros(x, batch_axis, step.state_widths[len(given):], name)
                       if len(step.state_widths) > len(given) else [])
    step_inputs = list(xs)
    if mask is not None:
        gates = rule.gates(OnnxOps(g, f"{name}/gate"), x, mask, batch_axis=batch_axis)
        step_inputs.append(mask if gates is None else gates)
    states, per_step, time_axis = wrap(step, g, name, initial, step_inputs)
    if step.last_output != "step":
        return states[0 if step.last_output == "state0" else -1], states
    (hs,) = per_step
    flat = wrap is wrap_loop  # its per-step outputs are (time, batch*k): loop_steps
    if layer.return_sequences:
        if time_axis == 1:
            return hs, states
        if not flat:
            return g.node("Transpose", [hs], f"{name}/Transpose", perm=[1, 0, 2]), states
        return g.node("Transpose", [loop_steps(g, name, hs, step_inputs[0], step.output_dim)], f"{name}/Transpose",
                      perm=[1, 0, 2]), states
    last = g.node("Gather", [hs, g.const(-1)], f"{name}/last", axis=time_axis)
    return (loop_steps(g, name, last, step_inputs[0], step.output_dim, last=True) if flat else last), states


def loop_steps(g, name, flat, x, width, last=False):
    """wrap_loop's per-step output (time, batch*width) as (time, batch, width), or its last
    step (batch*width,) as (batch, width); the sizes read from `x` (batch, time, ...). The
    last step is taken before the reshape: pad_empty (passes.py) finds it as a Gather of a
    Loop's output on its time axis."""
    axes = [0] if last else [1, 0]  # batch; time, batch
    sizes = g.node("Gather", [g.node("Shape", [x], f"{name}/Shape"), g.const(axes)], f"{name}/sizes", axis=0)
    shape = g.node("Concat", [sizes, g.const([width])], f"{name}/step_shape", axis=0)
    return g.node("Reshape", [flat, shape], f"{name}/steps")
