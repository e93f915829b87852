"""Keras 1.x/2.x files written here with h5py in the layouts the releases write (checked at
the tags: keras/engine/topology.py, keras/layers/recurrent.py, cudnn_recurrent.py), for
what the committed fixtures do not hold: `use_bias=False`, CuDNNLSTM, 1.x 'gpu' GRU and
SimpleRNN, release defaults, and files that must be refused. Expected values come from
the closed-form cells below (Keras 2's formulas, written out here, gate blocks in the
files' order), never from the reference."""
import importlib.util
import json

import h5py
import numpy as np
import pytest

import reference as r
from reference.keras_files import KerasFileError
from reference.keras_files.recurrent12 import takes
from reference.untrusted import QUOTE_LIMIT

from ..helpers import record

TOLERANCE = {"float64": 1e-12, "float32": 2e-6}


# -- the cells, as Keras 2 writes them (gate blocks i, f, c, o; z, r, h) ---------------------
def hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACT = {"hard_sigmoid": hard_sigmoid, "sigmoid": sigmoid, "tanh": np.tanh}


def keras_lstm(X, kernel, recurrent, bias, inner="hard_sigmoid", go_backwards=False):
    n, T, _ = X.shape
    k = recurrent.shape[0]
    h, c = np.zeros((n, k)), np.zeros((n, k))
    out = []
    steps = range(T - 1, -1, -1) if go_backwards else range(T)
    for t in steps:
        z = X[:, t] @ kernel + h @ recurrent + bias
        i, f, cc, o = (z[:, j * k:(j + 1) * k] for j in range(4))
        c = ACT[inner](f) * c + ACT[inner](i) * np.tanh(cc)
        h = ACT[inner](o) * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1)


def keras_gru(X, kernel, recurrent, bias, inner="hard_sigmoid"):
    n, T, _ = X.shape
    k = recurrent.shape[0]
    h = np.zeros((n, k))
    out = []
    for t in range(T):
        x = X[:, t] @ kernel + bias
        zr = hard_sigmoid(x[:, :2 * k] + h @ recurrent[:, :2 * k]) if inner == "hard_sigmoid" else \
            sigmoid(x[:, :2 * k] + h @ recurrent[:, :2 * k])
        z, rr = zr[:, :k], zr[:, k:]
        hh = np.tanh(x[:, 2 * k:] + (rr * h) @ recurrent[:, 2 * k:])
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, axis=1)


def keras_simple(X, kernel, recurrent, bias):
    h = np.zeros((X.shape[0], recurrent.shape[0]))
    out = []
    for t in range(X.shape[1]):
        h = np.tanh(X[:, t] @ kernel + bias + h @ recurrent)
        out.append(h)
    return np.stack(out, axis=1)


def cudnn_as_keras(kernel, recurrent, n):
    """The matrices cuDNN computes with, in Keras's (input, units) orientation: Keras hands
    cuDNN each gate's block as a flat buffer (cudnn_recurrent._canonical_to_params), which
    cuDNN reads as a row-major (units, input) matrix W (and (units, units) R) applied as W·x,
    R·h."""
    units, width = recurrent.shape[0], kernel.shape[0]
    W = np.hstack([k.reshape(-1).reshape(units, width).T for k in np.hsplit(kernel, n)])
    U = np.hstack([u.reshape(-1).reshape(units, units).T for u in np.hsplit(recurrent, n)])
    return W, U


# -- writing files in the releases' layouts ---------------------------------------------------
def attr(value, kind):
    return value.encode() if kind == "bytes" else value


def write(path, config, layers, keras_version="2.1.6", backend="theano", model_save=True, kind="str",
          dtype="float64"):
    """A model.save (or save_weights) file: layers = [(layer name, [(weight name, array)])]."""
    with h5py.File(path, "w") as f:
        if keras_version is not None:
            f.attrs["keras_version"] = attr(keras_version, kind)
        if backend is not None:
            f.attrs["backend"] = attr(backend, kind)
        if model_save:
            f.attrs["model_config"] = attr(json.dumps(config), kind)
            g = f.create_group("model_weights")
        else:
            g = f
        g.attrs["layer_names"] = [attr(name, "bytes") for name, _ in layers]
        for name, weights in layers:
            lg = g.create_group(name)
            lg.attrs["weight_names"] = [attr(w, "bytes") for w, _ in weights]
            for wname, value in weights:
                lg.create_dataset(wname, data=np.asarray(value, dtype=dtype))
    return path


def sequential(*layers, keras_version="2.1.6", backend="theano"):
    config = {"class_name": "Sequential", "config": list(layers)}
    if keras_version is not None:
        config["keras_version"] = keras_version
    if backend is not None:
        config["backend"] = backend
    return config


def rnn2(kind, units, name, width=3, **extra):
    config = {"name": name, "trainable": True, "batch_input_shape": [None, 4, width], "return_sequences": True,
              "units": units, "activation": "tanh"}
    if kind in ("LSTM", "GRU"):
        config["recurrent_activation"] = "hard_sigmoid"
    config.update(extra)
    return {"class_name": kind, "config": config}


@pytest.fixture
def X(rng):
    return rng.uniform(-1, 1, size=(3, 4, 3))


def check(model, X, expected, dtype="float64", label="synthetic files"):
    Y = model.predict(X.astype(dtype))
    error = float(np.max(np.abs(Y - expected)) / np.max(np.abs(expected)))
    assert record(f"Keras 1.x/2.x {label}, {dtype}", error) <= TOLERANCE[dtype]


# -- layouts ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ("float64", "float32"))
def test_use_bias_false_reads_zero_biases(tmp_path, rng, X, dtype):
    kernel, recurrent = rng.uniform(-.5, .5, (3, 20)), rng.uniform(-.5, .5, (5, 20))
    config = sequential(rnn2("LSTM", 5, "lstm_1", use_bias=False))
    path = write(tmp_path / "m.h5", config, [("lstm_1", [("lstm_1/kernel:0", kernel),
                                                         ("lstm_1/recurrent_kernel:0", recurrent)])], dtype=dtype)
    model = r.load_model(path)
    assert any("use_bias=False read as zero biases" in note for note in model.keras_notes)
    check(model, X, keras_lstm(X, kernel.astype(dtype), recurrent.astype(dtype), 0.0), dtype)


def test_cudnn_lstm_is_an_lstm_with_sigmoid_gates_and_the_two_biases_summed(tmp_path, rng, X):
    kernel, recurrent, bias = rng.uniform(-.5, .5, (3, 20)), rng.uniform(-.5, .5, (5, 20)), rng.uniform(-.5, .5, 40)
    layer = {"class_name": "CuDNNLSTM", "config": {"name": "cu_dnnlstm_1", "trainable": True,
                                                   "batch_input_shape": [None, 4, 3], "units": 5,
                                                   "return_sequences": True, "return_state": False,
                                                   "go_backwards": False, "stateful": False,
                                                   "kernel_initializer": {"class_name": "VarianceScaling"},
                                                   "unit_forget_bias": True}}
    path = write(tmp_path / "m.h5", sequential(layer, backend="tensorflow"),
                 [("cu_dnnlstm_1", [("cu_dnnlstm_1/kernel:0", kernel), ("cu_dnnlstm_1/recurrent_kernel:0", recurrent),
                                    ("cu_dnnlstm_1/bias:0", bias)])], backend="tensorflow")
    model = r.load_model(path)
    assert model.keras_backend == "tensorflow"
    W, U = cudnn_as_keras(kernel, recurrent, 4)
    check(model, X, keras_lstm(X, W, U, bias[:20] + bias[20:], inner="sigmoid"))
    plain = keras_lstm(X, kernel, recurrent, bias[:20] + bias[20:], inner="sigmoid")
    assert np.max(np.abs(model.predict(X) - plain)) > 1e-2  # cuDNN's layout is not Keras's


def test_cudnn_gru_is_a_reset_after_gru_or_refused_until_the_reference_has_one(tmp_path, rng, X):
    layer = {"class_name": "CuDNNGRU", "config": {"name": "cu_dnngru_1", "batch_input_shape": [None, 4, 3],
                                                  "units": 5, "return_sequences": True}}
    weights = [("cu_dnngru_1/kernel:0", rng.uniform(-.5, .5, (3, 15))),
               ("cu_dnngru_1/recurrent_kernel:0", rng.uniform(-.5, .5, (5, 15))),
               ("cu_dnngru_1/bias:0", rng.uniform(-.5, .5, 30))]
    path = write(tmp_path / "m.h5", sequential(layer, backend="tensorflow"), [("cu_dnngru_1", weights)],
                 backend="tensorflow")
    if not takes("GRU", "reset_after"):
        with pytest.raises(KerasFileError, match="reset_after=True .*not computed by this reference yet"):
            r.load_model(path)
        return
    kernel, recurrent, bias = (w for _, w in weights)
    kernel, recurrent = cudnn_as_keras(kernel, recurrent, 3)
    k, b_in, b_rec = 5, bias[:15], bias[15:]
    h, out = np.zeros((3, k)), []
    for t in range(4):  # cuDNN's GRU: r multiplies (h·U_h + recurrent bias)
        x = X[:, t] @ kernel + b_in
        hu = h @ recurrent + b_rec
        z, rr = sigmoid(x[:, :k] + hu[:, :k]), sigmoid(x[:, k:2 * k] + hu[:, k:2 * k])
        hh = np.tanh(x[:, 2 * k:] + rr * hu[:, 2 * k:])
        h = z * h + (1 - z) * hh
        out.append(h)
    check(r.load_model(path), X, np.stack(out, axis=1))


@pytest.mark.parametrize("kind", ("GRU", "SimpleRNN", "LSTM"))
def test_keras_1_gpu_layout_is_split_into_gates_in_its_order(tmp_path, rng, X, kind):
    """1.x consume_less='gpu': one W (in, n*units) with blocks i, f, c, o (GRU z, r, h);
    SimpleRNN has one W, U, b whatever consume_less says."""
    n = {"GRU": 3, "SimpleRNN": 1, "LSTM": 4}[kind]
    W, U, b = rng.uniform(-.5, .5, (3, 5 * n)), rng.uniform(-.5, .5, (5, 5 * n)), rng.uniform(-.5, .5, 5 * n)
    config = {"name": "rnn_1", "trainable": True, "batch_input_shape": [None, 4, 3], "input_dtype": "float32",
              "return_sequences": True, "go_backwards": False, "stateful": False, "unroll": False,
              "consume_less": "gpu", "input_dim": 3, "input_length": None, "output_dim": 5,
              "init": "glorot_uniform", "inner_init": "orthogonal", "activation": "tanh",
              "W_regularizer": None, "U_regularizer": None, "b_regularizer": None, "dropout_W": 0.0,
              "dropout_U": 0.0}
    if kind != "SimpleRNN":
        config["inner_activation"] = "hard_sigmoid"
    path = write(tmp_path / "m.h5", sequential({"class_name": kind, "config": config}, keras_version="1.2.2",
                                               backend=None),
                 [("rnn_1", [("rnn_1_W", W), ("rnn_1_U", U), ("rnn_1_b", b)])], keras_version="1.2.2", backend=None)
    model = r.load_model(path)
    expected = {"GRU": keras_gru, "SimpleRNN": keras_simple, "LSTM": keras_lstm}[kind](X, W, U, b)
    check(model, X, expected)


@pytest.mark.parametrize("release,inner", (("2.2.4", "hard_sigmoid"), ("2.3.0", "sigmoid"),
                                           ("2.1.6-tf", "hard_sigmoid"), ("2.3.0-tf", "sigmoid")))
def test_a_left_out_recurrent_activation_takes_the_default_of_the_release_that_wrote_the_file(
        tmp_path, rng, X, release, inner):
    layer = rnn2("LSTM", 5, "lstm_1")
    del layer["config"]["recurrent_activation"]
    kernel, recurrent, bias = rng.uniform(-2, 2, (3, 20)), rng.uniform(-2, 2, (5, 20)), rng.uniform(-2, 2, 20)
    path = write(tmp_path / "m.h5", sequential(layer, keras_version=release, backend="tensorflow"),
                 [("lstm_1", [("lstm_1/kernel:0", kernel), ("lstm_1/recurrent_kernel:0", recurrent),
                              ("lstm_1/bias:0", bias)])], keras_version=release, backend="tensorflow")
    model = r.load_model(path)
    assert model.keras_version == release
    check(model, X, keras_lstm(X, kernel, recurrent, bias, inner=inner))
    other = keras_lstm(X, kernel, recurrent, bias, inner="sigmoid" if inner == "hard_sigmoid" else "hard_sigmoid")
    assert np.max(np.abs(model.predict(X) - other)) > 1e-3  # the two defaults tell apart on these weights


def test_a_left_out_default_the_release_does_not_decide_is_refused(tmp_path, rng):
    layer = rnn2("GRU", 5, "gru_1")
    del layer["config"]["recurrent_activation"]
    weights = [("gru_1/kernel:0", rng.uniform(-.5, .5, (3, 15))),
               ("gru_1/recurrent_kernel:0", rng.uniform(-.5, .5, (5, 15))),
               ("gru_1/bias:0", rng.uniform(-.5, .5, 15))]
    for release in ("2.2.4-tf", None):  # TensorFlow 1.13-2.1 wrote "2.2.4-tf", with both defaults
        path = write(tmp_path / f"m{release}.h5", sequential(layer, keras_version=release, backend=None),
                     [("gru_1", weights)], keras_version=release, backend=None)
        with pytest.raises(KerasFileError, match="leaves out recurrent_activation, whose default differs"):
            r.load_model(path)
    model = r.load_model(path, keras_version="2.0.8")
    assert model.keras_version == "2.0.8" and model.keras_release.endswith("named by the caller")


def test_a_null_activation_is_linear_and_a_left_out_reset_after_takes_the_releases_default(tmp_path, rng, X):
    """Keras's activations.get(None) is linear; GRU's reset_after defaults to False in
    keras-team 2.x, True in tf.keras on TensorFlow 2, and "2.2.4-tf" (TensorFlow 1.13-2.1)
    decides nothing."""
    kernel, recurrent, bias = rng.uniform(-.5, .5, (3, 5)), rng.uniform(-.5, .5, (5, 5)), rng.uniform(-.5, .5, 5)
    layer = rnn2("SimpleRNN", 5, "s", activation=None)
    stored = [("s/kernel:0", kernel), ("s/recurrent_kernel:0", recurrent), ("s/bias:0", bias)]
    path = write(tmp_path / "m.h5", sequential(layer), [("s", stored)])
    h, out = np.zeros((3, 5)), []
    for t in range(4):
        h = X[:, t] @ kernel + bias + h @ recurrent
        out.append(h)
    check(r.load_model(path), X, np.stack(out, axis=1))
    layer = rnn2("GRU", 5, "g")
    weights = [("g/kernel:0", rng.uniform(-.5, .5, (3, 15))), 
               ("g/recurrent_kernel:0", rng.uniform(-.5, .5, (5, 15))),
               ("g/bias:0", rng.uniform(-.5, .5, 15))]
    path = write(tmp_path / "g.h5", sequential(layer, keras_version="2.2.4-tf", backend="tensorflow"),
                 [("g", weights)], keras_version="2.2.4-tf", backend="tensorflow")
    with pytest.raises(KerasFileError, match="leaves out reset_after, whose default differs"):
        r.load_model(path)
    path = write(tmp_path / "g2.h5", sequential(layer), [("g", weights)])
    check(r.load_model(path), X, keras_gru(X, *(w for _, w in weights)))


def test_a_file_that_states_no_release_is_told_by_its_keys(tmp_path, rng, X):
    kernel, recurrent, bias = rng.uniform(-.5, .5, (3, 5)), rng.uniform(-.5, .5, (5, 5)), rng.uniform(-.5, .5, 5)
    config = sequential(rnn2("SimpleRNN", 5, "simple_rnn_1"), keras_version=None, backend=None)
    path = write(tmp_path / "m.h5", config, [("simple_rnn_1", [("simple_rnn_1/kernel:0", kernel),
                                                              ("simple_rnn_1/recurrent_kernel:0", recurrent),
                                                              ("simple_rnn_1/bias:0", bias)])],
                 keras_version=None, backend=None)
    model = r.load_model(path)
    assert model.keras_version == "2.0.0–2.4.0"
    assert "config keys" in model.keras_release and "states no release" in model.keras_release
    check(model, X, keras_simple(X, kernel, recurrent, bias))
    with pytest.raises(KerasFileError, match="not written by Keras 1.2.2: its config keys .* are Keras 2.x's"):
        r.load_model(path, keras_version="1.2.2")


@pytest.mark.parametrize("kind", ("str", "bytes"))
def test_attributes_are_read_as_bytes_or_str(tmp_path, rng, X, kind):
    kernel, recurrent, bias = rng.uniform(-.5, .5, (3, 15)), rng.uniform(-.5, .5, (5, 15)), rng.uniform(-.5, .5, 15)
    path = write(tmp_path / "m.h5", sequential(rnn2("GRU", 5, "gru_1")),
                 [("gru_1", [("gru_1/kernel:0", kernel), ("gru_1/recurrent_kernel:0", recurrent),
                             ("gru_1/bias:0", bias)])], kind=kind)
    model = r.load_model(path)
    assert model.keras_release == "Keras 2.1.6 (theano): config key keras_version"
    check(model, X, keras_gru(X, kernel, recurrent, bias))


def test_a_sequential_config_of_2_2_3_and_later_and_tf_keras_input_layer(tmp_path, rng, X):
    """2.2.3+ writes {name, layers}; tf.keras may put an InputLayer first."""
    kernel, recurrent, bias = rng.uniform(-.5, .5, (3, 5)), rng.uniform(-.5, .5, (5, 5)), rng.uniform(-.5, .5, 5)
    layer = rnn2("SimpleRNN", 5, "simple_rnn_1")
    del layer["config"]["batch_input_shape"]
    config = {"class_name": "Sequential", "keras_version": "2.4.0", "backend": "tensorflow",
              "config": {"name": "sequential_1", "layers": [
                  {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4, 3], "dtype": "float32",
                                                          "sparse": False, "name": "input_1"}}, layer]}}
    path = write(tmp_path / "m.h5", config, [("simple_rnn_1", [("simple_rnn_1/kernel:0", kernel),
                                                              ("simple_rnn_1/recurrent_kernel:0", recurrent),
                                                              ("simple_rnn_1/bias:0", bias)])],
                 keras_version="2.4.0", backend="tensorflow")
    check(r.load_model(path), X, keras_simple(X, kernel, recurrent, bias))


# -- refused, in one sentence, with nothing set -------------------------------------------------
FIX = "tests/fixtures/keras_releases/"


def one_sentence(exc):
    text = str(exc.value)
    assert "\n" not in text and len(text) < 700, text
    return text


def test_a_weights_file_whose_layout_is_not_its_configs_is_refused():
    """1.2.2's 'gpu' config with a per-gate weights file: LSTM's c and f blocks have the same
    shape, so only the names tell; refused naming both layouts."""
    with pytest.raises(KerasFileError) as info:
        r.load_model(FIX + "1.2.2/gpu_emb_lstm_seq_f64.json", FIX + "1.2.2/emb_lstm_seq_f64.h5")
    text = one_sentence(info)
    assert "stores 12 weight arrays" in text and "fused (consume_less gpu) layout (W, U, b)" in text
    with pytest.raises(KerasFileError, match="per-gate .*layout"):
        r.load_model(FIX + "1.2.2/emb_lstm_seq_f64.json", FIX + "1.2.2/gpu_emb_lstm_seq_f64.h5")
    with pytest.raises(KerasFileError, match="holds weights for 2 layers .* the model has 3 layers with weights"):
        r.load_model(FIX + "1.2.2/compiled_emb_lstm_dense_f64.json", FIX + "1.2.2/emb_lstm_seq_f64.h5")
    with pytest.raises(KerasFileError, match="Keras 0.x weights file"):
        r.load_model(FIX + "1.2.2/emb_lstm_seq_f64.json", FIX + "0.3.2/emb_lstm_seq_f64.h5")


def test_a_shape_that_does_not_fit_is_refused_and_the_model_is_left_unchanged():
    model = r.load_model(FIX + "2.1.6/emb_lstm_seq_f64.model.h5")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(KerasFileError, match="has shape .* in the file.*the file does not fit its config"):
        model.load_weights(FIX + "2.1.6/emb_gru_seq_f64.h5")
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("entry,message", [
    ({"class_name": "Lambda", "config": {"name": "lambda_1", "function": "4wEAAAA="}},
     "a Lambda layer holds Python code .* code from a file is never run"),
    ({"class_name": "Conv9D", "config": {"name": "c"}}, "layer class 'Conv9D' is not read; accepted: .*LSTM"),
    ({"class_name": "LSTM", "config": dict(rnn2("LSTM", 5, "l")["config"], stateful=True)},
     "stateful=True is not supported"),
    ({"class_name": "LSTM", "config": dict(rnn2("LSTM", 5, "l")["config"], time_major=True)},
     "time_major=True .* is not read"),
    ({"class_name": "LSTM", "config": dict(rnn2("LSTM", 5, "l")["config"], peepholes=True)},
     "unknown config key 'peepholes' .*a Keras 2.x LSTM is read with"),
    ({"class_name": "GRU", "config": dict(rnn2("GRU", 5, "g")["config"], recurrent_activation="swishy")},
     "unknown activation"),
    ({"class_name": "Bidirectional", "config": {"name": "b", "layer": {"class_name": "Dense", "config": {}},
                                                "merge_mode": "concat"}}, "it wraps 'Dense'; accepted"),
])
def test_what_is_not_read_is_refused_in_one_sentence(tmp_path, entry, message):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(sequential(entry)))
    with pytest.raises(KerasFileError, match=message) as info:
        r.load_model(path)
    one_sentence(info)


def test_releases_that_contradict_each_other_or_are_not_read_are_refused(tmp_path):
    config = sequential(rnn2("LSTM", 5, "l"), keras_version="2.1.6")
    path = tmp_path / "m.json"
    path.write_text(json.dumps(config))
    with pytest.raises(KerasFileError, match="not written by Keras 2.3.1: the config's keras_version says 2.1.6"):
        r.load_model(path, keras_version="2.3.1")
    path.write_text(json.dumps(dict(config, keras_version="3.0.0")))
    with pytest.raises(KerasFileError, match="names Keras release '3.0.0', which is not read here"):
        r.load_model(path)
    path.write_text(json.dumps(dict(config, keras_version="1.2.2")))
    with pytest.raises(KerasFileError, match="says 1.2.2, but the config keys .* are Keras 2.x's"):
        r.load_model(path)
    path.write_text(json.dumps(dict(config, backend="mxnet")))
    with pytest.raises(KerasFileError, match="backend 'mxnet'"):
        r.load_model(path)
    weights = write(tmp_path / "w.h5", config, [("l", [])], keras_version="2.0.0", model_save=False)
    path.write_text(json.dumps(config))
    with pytest.raises(KerasFileError, match="keras_version says '2.1.6' but the file's keras_version attribute says"):
        r.load_model(path, weights)


def test_functional_models_wait_for_their_reader(tmp_path):
    if importlib.util.find_spec("reference.keras_files.functional") is not None:
        pytest.skip("the functional reader is there: its own tests cover it")
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"class_name": "Model", "config": {"name": "m", "layers": [], "input_layers": [],
                                                                  "output_layers": []}, "keras_version": "2.1.6"}))
    with pytest.raises(KerasFileError, match="functional models .* are not read yet"):
        r.load_model(path)


def test_hostile_hdf5_members_are_refused(tmp_path, rng):
    kernel = rng.uniform(-.5, .5, (3, 5))
    config = sequential(rnn2("SimpleRNN", 5, "s"))
    good = [("s", [("s/kernel:0", kernel), ("s/recurrent_kernel:0", np.eye(5)), ("s/bias:0", np.zeros(5))])]
    # a soft link instead of data
    path = write(tmp_path / "link.h5", config, good)
    with h5py.File(path, "a") as f:
        del f["model_weights/s/s/bias:0"]
        f["model_weights/s/s/bias:0"] = h5py.SoftLink("/model_weights/s/s/kernel:0")
    with pytest.raises(KerasFileError, match="SoftLink, not data stored in the file"):
        r.load_model(path)
    # compressed data
    path = write(tmp_path / "gzip.h5", config, good)
    with h5py.File(path, "a") as f:
        del f["model_weights/s/s/bias:0"]
        f["model_weights/s/s"].create_dataset("bias:0", data=np.zeros(5), compression="gzip")
    with pytest.raises(KerasFileError, match="compressed or filtered"):
        r.load_model(path)
    # a weight name that is not in the group, a huge model_config, a truncated file
    path = write(tmp_path / "missing.h5", config, good)
    with h5py.File(path, "a") as f:
        f["model_weights/s"].attrs["weight_names"] = [b"s/kernel:0", b"s/recurrent_kernel:0", b"s/nothing" + b"x" * 500]
    with pytest.raises(KerasFileError) as info:
        r.load_model(path)
    assert "is missing" in one_sentence(info) and len(str(info.value)) < 300
    with h5py.File(path, "a") as f:  # a weight name reaching out of its group
        f["model_weights/s"].attrs["weight_names"] = [b"s/kernel:0", b"/model_weights/s/s/kernel:0", b"s/bias:0"]
    with pytest.raises(KerasFileError, match="is not a path inside the layer's group"):
        r.load_model(path)
    path = write(tmp_path / "trunc.h5", config, good)
    data = path.read_bytes()
    (tmp_path / "trunc2.h5").write_bytes(data[:len(data) // 2])
    with pytest.raises(KerasFileError, match="not a readable HDF5 file|corrupt or truncated"):
        r.load_model(tmp_path / "trunc2.h5")
    with pytest.raises(KerasFileError, match="holds its config and its weights"):
        r.load_model(write(tmp_path / "w.h5", config, good), tmp_path / "w.h5")
    assert QUOTE_LIMIT < 300
