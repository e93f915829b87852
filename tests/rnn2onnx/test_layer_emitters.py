"""The dims an exported file declares for layers around recurrent layers. (That each
of them, alone and in recurrent stacks, computes the reference's numbers in both dtypes
and targets on every runtime is the conformance matrix's "around" group.)"""
import pytest

import reference as R
import rnn2onnx
from rnn2onnx import ExportError
from rnn2onnx.structure import fixed_length


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


def test_a_model_that_takes_one_length_is_validated_with_it():
    model = R.Sequential([R.Embedding(6, 3, input_length=5), R.GRU(4, return_sequences=True), R.Flatten(),
                          R.MaxoutDense(2)])
    assert rnn2onnx.validate(model, rnn2onnx.export(model, validate=False)).passed  # inputs of length 5
    assert fixed_length(model) == 5
    assert fixed_length(R.Sequential([R.Embedding(6, 3, input_length=5), R.GRU(4)])) is None
