"""The same exported files on a second runtime: OpenVINO (optional extra). Every layer x
mask source x target; skipped cleanly where OpenVINO is not installed."""
import numpy as np
import pytest

import rnn2onnx
from rnn2onnx import runtimes
from rnn2onnx.validate import TOLERANCE, compare, generate_inputs

from .models import CELLS, MASK_SOURCES, build

pytestmark = pytest.mark.skipif("openvino" not in runtimes.available(),
                                reason="openvino is not installed (pip install -e '.[openvino]')")


def run_openvino(model, proto):
    run = runtimes.load("openvino", proto)
    return [compare(model.predict(X), run({"input": X})[0], "output", "float32")
            for X in (generate_inputs(model, n=8, T=7), generate_inputs(model, n=2, T=1, seed=1))]


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("mask_source", MASK_SOURCES)
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_portable_files_agree_on_openvino(cell, mask_source, return_sequences):
    model = build(cell, mask_source, return_sequences)
    for result in run_openvino(model, rnn2onnx.export(model, target="portable")):
        assert result.max_rel_error <= TOLERANCE["float32"], result


@pytest.mark.parametrize("cell", ["JZS1", "JZS3", "GRU", "SimpleDeepRNN3"])
def test_softmax_gates_in_a_portable_loop_run_on_openvino(cell):
    # OpenVINO 2026.4 failed on a Softmax inside the loop body ("not enough registers")
    model = build(cell, "embedding", True, activation="sigmoid", inner_activation="softmax")
    proto = rnn2onnx.export(model, target="portable")
    assert rnn2onnx.validate(model, proto).passed
    for result in run_openvino(model, proto):
        assert result.max_rel_error <= TOLERANCE["float32"], result


@pytest.mark.parametrize("cell", ["GRU", "LSTM", "SimpleRNN"])
def test_onnxruntime_target_files_with_common_activations_agree_on_openvino(cell):
    model = build(cell, activation="tanh", inner_activation="sigmoid")
    proto = rnn2onnx.export(model, strategy="native")
    for result in run_openvino(model, proto):
        assert result.max_rel_error <= TOLERANCE["float32"], result


def test_float64_file_runs_on_openvino_within_float32_tolerance():
    # OpenVINO's CPU plugin has no float64 kernels: it computes such files in float32
    model = build("LSTM", "embedding", dtype="float64")
    for result in run_openvino(model, rnn2onnx.export(model, target="portable")):
        assert result.max_rel_error <= TOLERANCE["float32"], result
