"""Third-party ONNX graph optimizers keep every export exact: onnxsim, onnxslim and
onnxoptimizer, each where installed (none is a dependency; the README says what they do
to our files, from a survey over the whole conformance matrix)."""
import contextlib
import importlib.util
import io

import onnx
import pytest

import rnn2onnx

from .models import CELLS, build


def _onnxsim(model):
    import onnxsim

    simplified, ok = onnxsim.simplify(model)
    assert ok
    return simplified


def _onnxslim(model):
    import onnxslim

    return onnxslim.slim(model)


def _onnxoptimizer(model):
    import onnxoptimizer

    return onnxoptimizer.optimize(model)


TOOLS = {"onnxsim": _onnxsim, "onnxslim": _onnxslim, "onnxoptimizer": _onnxoptimizer}
# onnxsim 0.8.1 fails an assertion ("eraseOutput: Assertion `outputs_[i]->uses().empty()`")
# on Loop-form files whose body reads an outer tensor that its optimizer rewrites
LOOP_OP_TOOLS = ("onnxslim", "onnxoptimizer")
# ... and on target="onnxruntime" SimpleRNN/SimpleDeepRNN files, whose guarded Scan (inside
# the empty-input guard's If, rnn2onnx/passes.py) reads outer tensors the same way
GUARDED_SCAN_FAILS = {"onnxsim": ("SimpleRNN", "SimpleDeepRNN1", "SimpleDeepRNN3")}


@pytest.mark.parametrize("tool", sorted(TOOLS))
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_optimized_exports_stay_exact(tool, cell):
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed (pip install {tool})")
    for mask_source, return_sequences, target, loop_op in (
            ("embedding", False, "onnxruntime", "scan"), ("none", True, "onnxruntime", "scan"),
            ("masking", True, "portable", "scan"), ("embedding", True, "portable", "loop")):
        if loop_op == "loop" and tool not in LOOP_OP_TOOLS:
            continue
        if target == "onnxruntime" and cell in GUARDED_SCAN_FAILS.get(tool, ()):
            continue
        model = build(cell, mask_source, return_sequences, activation="tanh", inner_activation="sigmoid")
        proto = rnn2onnx.export(model, target=target, loop_op=loop_op)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            optimized = TOOLS[tool](onnx.ModelProto.FromString(proto.SerializeToString()))
        assert rnn2onnx.validate(model, optimized).passed
