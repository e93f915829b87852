"""ONNX forms of the Keras 1.x/2.x parameters whose graph depends on the input: TensorFlow's
SAME padding of a strided window (its pads follow the sequence length) and the masked mean of
GlobalAveragePooling1D (NaN for a sample whose steps are all masked, as Keras computes it).
One exported model, run at several lengths in onnxruntime, against the reference."""
import numpy as np
import pytest

import reference as R
import rnn2onnx
from rnn2onnx import runtimes
from reference.convolutional import AveragePooling1D, Convolution1D, MaxPooling1D
from reference.layers import TimeDistributedMerge

TOLERANCE = {"float32": 2e-6, "float64": 1e-12}


def _check(model, inputs, dtype):
    run = runtimes.load("onnxruntime", rnn2onnx.export(model, validate=False))
    for X in inputs:
        expected = model.predict(X)
        (got,) = run({"input": X})
        assert got.shape == expected.shape
        assert np.array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_allclose(np.nan_to_num(got), np.nan_to_num(expected), rtol=TOLERANCE[dtype],
                                   atol=TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tensorflow_same_padding_follows_the_length(dtype):
    model = R.Sequential(dtype=dtype, seed=1)
    model.add(Convolution1D(3, 4, border_mode="same", subsample_length=3, flip=False, same_rule="tensorflow",
                            input_shape=(None, 2)))
    model.add(AveragePooling1D(3, 2, border_mode="same", same_rule="tensorflow"))
    model.add(MaxPooling1D(2, 2, border_mode="same", same_rule="tensorflow"))
    rng = np.random.default_rng(0)
    _check(model, [rng.normal(size=(2, L, 2)).astype(dtype) for L in range(1, 12)], dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_masked_mean_over_time(dtype):
    model = R.Sequential(dtype=dtype, seed=1)
    model.add(R.Embedding(6, 3, mask_zero=True))
    model.add(R.GRU(4, return_sequences=True))
    model.add(TimeDistributedMerge("ave", global_pooling=True, masked_mean=True))
    X = np.array([[0, 0, 3, 4, 5], [1, 2, 0, 0, 0], [1, 0, 2, 0, 3], [0, 0, 0, 0, 0]])
    _check(model, [X, X[:, :1]], dtype)
