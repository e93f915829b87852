"""Every row of the conformance matrix's AROUND_LAYERS (each layer around recurrent layers,
alone and in a recurrent stack) exported in float32 and float64 for both targets: it
agrees with the reference on onnxruntime, and portable files on OpenVINO and tract."""
import numpy as np
import pytest

import reference as R
import rnn2onnx
from rnn2onnx import ExportError, runtimes
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


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("layers, input_dims, output_dims", [
    # the time axis stays dynamic through layers that do not need its length
    ([R.LSTM(4, input_dim=3, input_length=6), R.RepeatVector(5), R.GRU(2, return_sequences=True)],
     ["batch", "time", 3], ["batch", 5, 2]),
    ([R.TimeDistributedDense(4, input_dim=3), R.Permute((2, 1))], ["batch", "time", 3], ["batch", 4, "time"]),
    ([R.LSTM(4, input_dim=3, return_sequences=True), R.TimeDistributedMerge("ave")], ["batch", "time", 3],
     ["batch", 4]),
    # a layer that needs the length fixes it to the built one
    ([R.GRU(4, input_dim=3, input_length=6, return_sequences=True), R.Flatten()], ["batch", 6, 3], ["batch", 24]),
    ([R.TimeDistributedDense(4, input_shape=(6, 3)), R.Permute((2, 1)), R.LSTM(2)], ["batch", 6, 3], ["batch", 2]),
    ([R.TimeDistributedDense(2, input_shape=(6, 3)), R.Reshape((3, 4))], ["batch", 6, 3], ["batch", 3, 4]),
    ([R.LSTM(4, input_shape=(5, 3), return_sequences=True), R.PReLU()], ["batch", 5, 3], ["batch", 5, 4]),
])
def test_exported_dims_say_which_axes_follow_the_input_length(layers, input_dims, output_dims):
    model = R.Sequential(layers)
    proto = rnn2onnx.export(model, validate=False)
    assert _dims(proto.graph.input[0]) == input_dims and _dims(proto.graph.output[0]) == output_dims


def test_layers_that_take_no_mask_are_refused_after_one():
    model = R.Sequential([R.Embedding(5, 3, input_length=6, mask_zero=True), R.LSTM(4, return_sequences=True),
                           R.Flatten()])
    with pytest.raises(ExportError, match="layer flatten_1: Flatten cannot follow a layer with a mask"):
        rnn2onnx.export(model, validate=False)
