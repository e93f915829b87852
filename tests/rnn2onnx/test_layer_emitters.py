"""Every row of the conformance matrix's AROUND_LAYERS (each layer around recurrent layers,
alone and in a recurrent stack) exported in float32 and float64 for both targets: it
agrees with the reference on onnxruntime, and portable files on OpenVINO and tract."""
import numpy as np
import pytest

import rnn2onnx
from rnn2onnx import runtimes
from rnn2onnx.conformance.matrix import AROUND_LAYERS, Case, make_inputs, make_model
from rnn2onnx.export import DEFAULT_OPSET
from rnn2onnx.validate import TOLERANCE, compare

ROWS = [(kind, row, mask, layers) for kind, rows in AROUND_LAYERS.items() for row, mask, layers in rows]


def _case(mask, layers, dtype, target):
    return Case([(k, dict(kw)) for k, kw in layers], mask, dtype, "auto", target, DEFAULT_OPSET, "around")


@pytest.mark.parametrize("target", ["onnxruntime", "portable"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind, row, mask, layers", ROWS, ids=[r for _, r, _, _ in ROWS])
def test_layer_rows_agree_with_the_reference(kind, row, mask, layers, dtype, target):
    case = _case(mask, layers, dtype, target)
    model = make_model(case, seed=2)
    proto = rnn2onnx.export(model, target=target, validate=False)
    names = ["onnxruntime"] + ([r for r in ("openvino", "tract") if r in runtimes.available()]
                               if target == "portable" else [])
    for X in make_inputs(case, model, seed=3):
        expected = model.predict(X)
        for name in names:
            (got,) = runtimes.load(name, proto)({"input": X})
            computes = dtype if runtimes.get(name).computes_float64 else "float32"
            result = compare(expected, got, "output", computes)
            assert result.max_rel_error <= TOLERANCE[computes], (name, result)
