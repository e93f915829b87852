"""The same exported files on a second runtime: OpenVINO (optional extra). Every layer x
mask source x target; skipped cleanly where OpenVINO is not installed."""
import pytest

import rnn2onnx
from rnn2onnx import runtimes
from rnn2onnx.validate import TOLERANCE, compare, generate_inputs

from .models import CELLS, MASK_SOURCES, build

pytestmark = pytest.mark.skipif("openvino" not in runtimes.available(),
                                reason="openvino is not installed (pip install -e '.[openvino]')")


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("mask_source", MASK_SOURCES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_portable_files_agree_on_openvino(cell, mask_source, return_sequences):
    model = build(cell, mask_source, return_sequences)
    proto = rnn2onnx.export(model, target="portable")
    assert rnn2onnx.validate(model, proto, runtime="openvino").passed


@pytest.mark.parametrize("cell", ["JZS1", "JZS3", "GRU", "SimpleDeepRNN3"])
def test_softmax_gates_in_a_portable_loop_run_on_openvino(cell):
    # OpenVINO 2026.4 failed on a Softmax inside the loop body ("not enough registers")
    model = build(cell, "embedding", True, activation="sigmoid", inner_activation="softmax")
    proto = rnn2onnx.export(model, target="portable")
    assert rnn2onnx.validate(model, proto).passed
    assert rnn2onnx.validate(model, proto, runtime="openvino").passed


@pytest.mark.parametrize("cell", ["GRU", "LSTM", "SimpleRNN"])
def test_onnxruntime_target_files_with_common_activations_agree_on_openvino(cell):
    model = build(cell, activation="tanh", inner_activation="sigmoid")
    proto = rnn2onnx.export(model, strategy="native")
    assert rnn2onnx.validate(model, proto, runtime="openvino").passed


def test_float64_file_runs_on_openvino_within_float32_tolerance():
    # OpenVINO's CPU plugin has no float64 kernels: it computes such files in float32,
    # so the comparison uses the float32 tolerance
    model = build("LSTM", "embedding", dtype="float64")
    run = runtimes.load("openvino", rnn2onnx.export(model, target="portable"))
    X = generate_inputs(model)
    result = compare(model.predict(X), run({"input": X})[0], "output", "float32")
    assert result.max_rel_error <= TOLERANCE["float32"], result
