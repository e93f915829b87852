"""The export targets: one record per target holding its whole policy, and the registry.

A target names the runtimes a file must run on, and each of them refuses or miscomputes
some forms, so the exporter's choices differ per target. Every such choice reads a field
of the target's record (`Target`); no other code compares target names. The file's
metadata keeps the name (`rnn2onnx.target`).
"""
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Tuple

from .passes import guard_empty, pad_empty


@dataclass(frozen=True)
class Target:
    """One export target's policy. A new target is one new record in TARGETS; it decides:

    - which runtimes are held to its files (`all_runtimes`) and what `--target` says of it
      (`summary`);
    - native LSTM/GRU/RNN ops: which activations they may keep (`native_activations`), and
      whether the masked native forms (`masked_native_refusal`), a reverse-direction op
      (`native_reverse`) and one bidirectional op (`bidirectional_native_refusal`) are used;
      whether they get explicit zero initial states (`explicit_initial_states`);
    - loop bodies: the body every runtime accepts (`strict_loop_body`) or the faster one,
      and the Scan's axis (`time_major_scan`);
    - activations (the forms in reference/activations.py read these): float64 sigmoid
      (`float64_sigmoid_as_tanh`), softmax in a loop body (`loop_softmax_as_log`), float32
      softplus (`float32_softplus_op`);
    - the finished file: weights moved into loop bodies (`weights_into_loops`) and the late
      rewrites (`late_passes`, rnn2onnx/passes.py).
    """

    name: str
    summary: str
    all_runtimes: bool
    native_activations: Optional[Mapping[str, Tuple[str, ...]]]
    native_activations_why: str
    masked_native_refusal: Optional[str]
    native_reverse: bool
    bidirectional_native_refusal: Optional[str]
    explicit_initial_states: bool
    strict_loop_body: bool
    time_major_scan: bool
    float64_sigmoid_as_tanh: bool
    loop_softmax_as_log: bool
    float32_softplus_op: bool
    weights_into_loops: bool
    late_passes: Tuple[Callable, ...]


ONNXRUNTIME = Target(
    name="onnxruntime",
    summary="files onnxruntime runs, as fast as it runs them (default)",
    # onnxruntime is the exporter's reference runtime; other runtimes are not held to
    # these files (they may use native activations OpenVINO refuses and tract replaces)
    all_runtimes=False,
    # every activation with a native form (reference/activations.py `native`): onnxruntime
    # computes all of them in its LSTM/GRU/RNN kernels
    native_activations=None,
    native_activations_why="",
    # the masked native forms run 0.1-0.9x the Scan's time (emitters/recurrent.py AUTO_MASKED)
    masked_native_refusal=None,
    # a go_backwards layer without return_sequences runs the op with direction="reverse":
    # no Reverse of the input needed (emitters/native.py reverse_direction)
    native_reverse=True,
    # both halves of a Bidirectional as one op with direction="bidirectional"
    bidirectional_native_refusal=None,
    # the op's default zero states (explicit ones cost onnxruntime ~2% at batch 1; a fixed
    # batch still gets them, for onnx2tf: emitters/native.py native_node)
    explicit_initial_states=False,
    # the faster loop body: a named batch dim (1.0-1.6x faster at batch 1), no Identity on
    # per-step outputs, an unread carried output (emitters/loop.py docstring)
    strict_loop_body=False,
    # a Scan over axis 0 of a time-major input: onnxruntime copies every scan input whose
    # axis is not 0 at each run (emitters/loop.py docstring; 0.96-0.97x the time)
    time_major_scan=True,
    # onnxruntime has a float64 Sigmoid
    float64_sigmoid_as_tanh=False,
    # onnxruntime runs Softmax in a loop body
    loop_softmax_as_log=False,
    # onnxruntime's float32 Softplus op is exact (its float64 one is missing: composed)
    float32_softplus_op=True,
    # onnxruntime prepacks only weights of the graph a MatMul is in: JZS3's Scan 0.91-0.93x
    # the time with its weights inside the body (passes.weights_into_loops)
    weights_into_loops=True,
    # empty input made safe by an If around the graph (passes.guard_empty)
    late_passes=(guard_empty,),
)

PORTABLE = Target(
    name="portable",
    summary="files onnxruntime, OpenVINO and tract all run (native ops only with ONNX's default "
            "activations, loop bodies every one of them accepts)",
    # its files must compute the same numbers on every runtime we test
    # (rnn2onnx.runtimes: onnxruntime, OpenVINO, tract): each is held to them
    all_runtimes=True,
    # exactly ONNX's defaults per slot of the op: OpenVINO 2026.4 (CPU) refuses HardSigmoid
    # and Affine ("Unsupported activation function"); tract 0.23 ignores the `activations`
    # attribute and computes the defaults, silently (hard_sigmoid LSTM gates came out
    # 0.16-0.19 off, relu GRUs 1.0-1.8)
    native_activations={"LSTM": ("sigmoid", "tanh", "tanh"), "GRU": ("sigmoid", "tanh"), "RNN": ("tanh",)},
    native_activations_why="ONNX's default activations; tract ignores any others",
    # the masked native forms compute their row/segment indices from the input's shape
    # (Range, ArgMax, NonZero, ConstantOfShape); tract 0.23 types such values as symbolic
    # dims and refuses the graph ("expected I64 got TDim", "shape input is variable")
    masked_native_refusal="the portable target keeps masked layers in the loop form: tract 0.23 refuses the "
                          "shape-derived index arithmetic of the masked native forms",
    # tract 0.23 ignores direction="reverse" (runs forward, silently: 0.4-1.5 off), so a
    # go_backwards layer reverses its input instead
    native_reverse=False,
    # the same: each half of a Bidirectional runs on its own
    bidirectional_native_refusal="tract ignores the direction attribute (the portable target runs each half "
                                 "on its own)",
    # tract 0.23 panics (aborting the process) on a symbolic batch unless the initial states
    # are inputs: zeros, batch from the input's shape
    explicit_initial_states=True,
    # tract 0.23.9 refuses or mis-types a body with a named dim, an unread state input, or
    # a per-step output also read in the body (emitters/loop.py docstring)
    strict_loop_body=True,
    # the Scan runs over axis 1 of the batch-major projection (no Transpose of the input;
    # the time-major Scan's speed-up is onnxruntime's)
    time_major_scan=False,
    # tract 0.23 has no float64 Sigmoid ("Sigmoid does not support F64"); its Tanh has:
    # sigmoid(x) = 0.5 + 0.5 * tanh(x / 2), within a few ulps in float64
    float64_sigmoid_as_tanh=True,
    # OpenVINO 2026.4's CPU plugin fuses a Softmax in a loop body with the gates around it
    # and fails ("not enough registers"); Exp(LogSoftmax) stays out of it
    loop_softmax_as_log=True,
    # tract 0.23 computes Softplus as log(1 + exp(x)): inf above x = 88.7 in float32
    float32_softplus_op=False,
    # the runtimes held to portable files are not asked to read initializers inside loop bodies
    weights_into_loops=False,
    # empty input made safe without an If: tract 0.23 miscomputes a Scan inside an If whose
    # per-step output is read at its last step (errors up to 0.6); passes.pad_empty costs
    # onnxruntime more at batch 1 (`rnn2onnx bench` (g))
    late_passes=(pad_empty,),
)

#: name -> record; the exporter's `target` option, the CLI's --target choices, and the
#: conformance matrix's targets
TARGETS = {t.name: t for t in (ONNXRUNTIME, PORTABLE)}


def get(target):
    """The record of a registered target name (a record is returned as it is)."""
    return target if isinstance(target, Target) else TARGETS[target]
