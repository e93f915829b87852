"""The emitters of Convolution1D, MaxPooling1D, BatchNormalization and
ActivityRegularization (rnn2onnx/emitters/convolutional.py, normalization.py): files
written by Keras 0.2.0 (tests/fixtures/keras02), exported in both dtypes and for both
targets, agree with Keras's own predictions; portable files on OpenVINO and tract."""
import numpy as np
import pytest

import reference as R
import rnn2onnx
from rnn2onnx import ExportError, runtimes

from ..reference import keras02

FIXTURES = ["conv_valid_pool_lstm", "conv_same_pool_gru", "conv_full_sub2_rnn", "conv_valid_sub2_jzs1",
            "train_steps_sgd_f64", "train_steps_sgd_f32", "train_steps_adam", "bn_seq_advanced",
            "maxout_bn0_noise_f64", "maxout_bn0_noise_f32", "regularizers", "regularizers_nonneg_config"]
# exported file vs Keras's Y, relative to max |Y| (float32: to max(1, |Y|), as validate does)
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def _error(got, want, dtype):
    scale = np.max(np.abs(want))
    return float(np.max(np.abs(got - want)) / (max(scale, 1.0) if dtype == "float32" else scale))


@pytest.mark.parametrize("target", ["onnxruntime", "portable"])
@pytest.mark.parametrize("name", FIXTURES)
def test_exports_of_keras_files_agree_with_keras(name, target):
    (X,), Y = keras02.data(name)
    model = keras02.load(name)
    for dtype in ("float64", "float32"):
        if dtype == "float64" and keras02.MANIFEST[name]["floatX"] == "float32":
            continue  # a float32 file's weights: float64 adds nothing Keras computed
        model.set_dtype(dtype)
        proto = rnn2onnx.export(model, target=target)  # validated against the reference too
        feed = X.astype(np.int64 if X.dtype.kind in "iu" else dtype)  # token ids, or floats
        (got,) = runtimes.load("onnxruntime", proto)({"input": feed})
        assert _error(got, Y, dtype) <= TOLERANCE[dtype], (dtype, _error(got, Y, dtype))


@pytest.mark.parametrize("runtime", ["openvino", "tract"])
@pytest.mark.parametrize("name", ["conv_valid_pool_lstm", "conv_full_sub2_rnn", "train_steps_sgd_f64"])
def test_portable_files_run_on_other_runtimes(name, runtime):
    if runtime not in runtimes.available():
        pytest.skip(f"{runtime} is not installed")
    (X,), Y = keras02.data(name)
    model = keras02.load(name, dtype="float32")
    proto = rnn2onnx.export(model, target="portable", validate=False)
    report = rnn2onnx.validate(model, proto, runtime=runtime, raise_on_failure=False)
    assert report.passed, report.format_table()
    (got,) = runtimes.load(runtime, proto)({"input": X.astype("float32")})
    assert _error(got, Y, "float32") <= TOLERANCE["float32"]


@pytest.mark.parametrize("runtime", ["onnxruntime", "tract"])
def test_float64_batchnorm_mode_1_stays_float64(runtime):
    """tract fuses a square followed by a reduction into a float32 kernel; the emitter's
    MatMul form keeps a float64 file exact."""
    if runtime not in runtimes.available():
        pytest.skip(f"{runtime} is not installed")
    model = R.Sequential([R.GRU(4, input_shape=(6, 3), return_sequences=True), R.BatchNormalization(mode=1),
                          R.BatchNormalization(mode=0), R.LSTM(3)], dtype="float64", seed=0)
    proto = rnn2onnx.export(model, target="portable", validate=False)
    report = rnn2onnx.validate(model, proto, runtime=runtime, inputs=np.random.default_rng(0).normal(size=(5, 6, 3)),
                               raise_on_failure=False)
    assert report.outputs[0].max_rel_error <= 1e-13, report.format_table()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pool,stride", [(3, 2), (2, 3), (4, 1), (1, 2)])
def test_pooling_with_partial_windows_at_every_length(pool, stride, dtype):
    """ignore_border=False: the window count depends on the length, computed in the graph."""
    model = R.Sequential([R.MaxPooling1D(pool, stride, ignore_border=False, input_shape=(None, 2))], dtype=dtype)
    proto = rnn2onnx.export(model, validate=False, opset=13)
    run = runtimes.load("onnxruntime", proto)
    for L in range(1, 9):
        X = np.random.default_rng(L).normal(size=(2, L, 2)).astype(dtype)
        (got,) = run({"input": X})
        np.testing.assert_array_equal(got, model.predict(X))


def test_exports_refuse_what_they_cannot_write_in_one_sentence(tmp_path):
    masked = R.Sequential([R.Embedding(5, 3, mask_zero=True, input_length=4), R.BatchNormalization()])
    with pytest.raises(ExportError, match="BatchNormalization cannot follow a layer with a mask"):
        rnn2onnx.export(masked, tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_convolution_model_validates_with_its_shortest_sequence():
    """validate() makes its short batch as short as the model accepts (here 4 steps)."""
    model = R.Sequential([R.Convolution1D(2, 3, input_shape=(None, 2)), R.MaxPooling1D(2)], dtype="float64")
    assert rnn2onnx.validate(model, rnn2onnx.export(model, validate=False)).passed
    from rnn2onnx.validation import shortest_length
    assert shortest_length(model) == 4
