"""Keras 0.1.x/0.2.0 files: configs (JSON/YAML) and HDF5 weights, both ways.

Fixtures are written with h5py directly in the 0.2.0 layout by
tests/fixtures/legacy/make_fixtures.py (not by reference.keras_files).
"""
import json
import os
import warnings

import h5py
import numpy as np
import pytest

import reference as r
from reference import build
from reference.keras_files import KerasFileError, text
from reference.errors import ConfigError

from ...fixtures.legacy import make_fixtures as mf



def _path(fx, name):
    return os.path.join(fx, name)


def _ids(n=5, T=7, vocab=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(1, vocab, size=(n, T))
    X[1, :3] = 0          # left padding
    X[2, -2:] = 0         # right padding
    X[3, 2:4] = 0         # a hole
    return X


def _floats(n=5, T=6, d=3, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, T, d))
    X[1, :2] = 0.0
    X[2, -1] = 0.0
    return X


def _assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y)


# -------------------------------------------------------------------------------------------
# fixtures written by "Keras 0.2.0" (h5py directly) load into the same model the API builds
# -------------------------------------------------------------------------------------------
def _api_model(name):
    """The fixture model built through the public API, weights passed explicitly."""
    w = mf.arrays(name)
    m = r.Sequential()
    if name == "every_recurrent":
        m.add(r.Embedding(12, 4, mask_zero=True, weights=w[0]))
        m.add(r.SimpleRNN(5, activation="tanh", return_sequences=True, weights=w[1]))
        m.add(r.SimpleDeepRNN(5, depth=3, activation="sigmoid", inner_activation="hard_sigmoid",
                              return_sequences=True, weights=w[2]))
        m.add(r.GRU(6, return_sequences=True, weights=w[3]))
        m.add(r.LSTM(5, return_sequences=True, weights=w[4]))
        m.add(r.TimeDistributedDense(4, weights=w[5]))
        m.add(r.Activation("tanh"))
        m.add(r.JZS1(4, return_sequences=True, weights=w[7]))
        m.add(r.JZS2(5, return_sequences=True, weights=w[8]))
        m.add(r.JZS3(3, weights=w[9]))
        m.add(r.Dropout(0.25))
        m.add(r.Dense(2, activation="softmax", weights=w[11]))
    elif name in ("masking_float", "compiled"):
        m.add(r.Masking(0.0, input_shape=(None, 3)))
        m.add(r.LSTM(4, return_sequences=True, weights=w[1]))
        m.add(r.TimeDistributedDense(2, activation="softmax", weights=w[2]))
    elif name == "first_recurrent_input_dim":
        m.add(r.GRU(4, activation="tanh", input_dim=3, input_length=6, weights=w[0]))
    elif name == "keras01":
        m.add(r.Embedding(10, 3, mask_zero=True, weights=w[0]))
        m.add(r.GRU(4, weights=w[1]))
        m.add(r.Dense(3, activation="softmax", weights=w[2]))
    return m


def _inputs(name):
    if name == "every_recurrent":
        return _ids(vocab=12)
    if name == "keras01":
        return _ids(vocab=10)
    return _floats(T=6)


@pytest.mark.parametrize("ext", ["json", "yaml"])
@pytest.mark.parametrize("name", sorted(mf.MODELS))
def test_fixture_loads_as_the_api_model(fx, name, ext):
    model = build.load_model(_path(fx, f"{name}.{ext}"), _path(fx, f"{name}.h5"))
    expected = _api_model(name)
    assert [type(l).__name__ for l in model.layers] == [type(l).__name__ for l in expected.layers]
    _assert_same_weights(model, expected)
    X = _inputs(name)
    assert np.array_equal(model.predict(X), expected.predict(X))
    # the file's arrays, by index (param_10 and param_11 of the LSTM included)
    flat = [a for layer in mf.arrays(name) for a in layer]
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), flat))


def test_h5py_lists_param_10_before_param_2_and_we_read_by_index(fx):
    with h5py.File(_path(fx, "every_recurrent.h5"), "r") as f:
        names = list(f["layer_4"].keys())
        assert names.index("param_10") < names.index("param_2")  # the trap
        assert list(f.keys()).index("layer_10") < list(f.keys()).index("layer_2")
    model = build.load_model(_path(fx, "every_recurrent.json"), _path(fx, "every_recurrent.h5"))
    lstm = model.layers[4]
    assert lstm.weight_names[10:] == ["U_o", "b_o"]
    assert np.array_equal(lstm.params["U_o"], mf.arrays("every_recurrent")[4][10])
    assert np.array_equal(lstm.params["b_f"], mf.arrays("every_recurrent")[4][8])


@pytest.mark.parametrize("name", ["every_recurrent", "masking_float", "first_recurrent_input_dim", "compiled"])
def test_to_json_reproduces_a_0_2_0_config_exactly(fx, name):
    with open(_path(fx, f"{name}.json")) as f:
        original = json.load(f)
    model = build.load_model(_path(fx, f"{name}.json"))
    assert json.loads(model.to_json()) == original
    assert build.model_from_yaml(model.to_yaml()).get_weights is not None
    assert text.KerasYamlLoader is not None
    import yaml
    assert text._listify(yaml.load(model.to_yaml(), Loader=text.KerasYamlLoader)) == original


def test_yaml_written_like_0_2_0_tags_tuples(fx):
    text = build.load_model(_path(fx, "masking_float.yaml")).to_yaml()
    assert "input_shape: !!python/tuple [null, 3]" in text
    with open(_path(fx, "masking_float.yaml")) as f:
        assert "!!python/tuple" in f.read()


# -------------------------------------------------------------------------------------------
# the exact 0.2.0 config keys
# -------------------------------------------------------------------------------------------
RECURRENT_KEYS = {"name", "output_dim", "init", "inner_init", "activation", "inner_activation",
                  "truncate_gradient", "return_sequences", "input_dim", "input_length"}
DENSE_KEYS = {"name", "output_dim", "init", "activation", "W_regularizer", "b_regularizer",
              "activity_regularizer", "W_constraint", "b_constraint", "input_dim"}


def test_config_keys_are_keras_0_2_0s():
    m = r.Sequential()
    m.add(r.Embedding(9, 4, input_length=6))
    m.add(r.SimpleRNN(3, return_sequences=True))
    m.add(r.SimpleDeepRNN(3, depth=2, return_sequences=True))
    m.add(r.LSTM(3, return_sequences=True))
    m.add(r.GRU(3, return_sequences=True))
    m.add(r.JZS1(3, return_sequences=True))
    m.add(r.TimeDistributedDense(2))
    m.add(r.Activation("relu"))
    m.add(r.Dropout(0.5))
    m.add(r.JZS3(2))
    m.add(r.Dense(2))
    layers = json.loads(m.to_json())["layers"]
    assert layers[0] == {"name": "Embedding", "input_dim": 9, "output_dim": 4, "init": "uniform",
                         "input_length": 6, "mask_zero": False, "activity_regularizer": None,
                         "W_regularizer": None, "W_constraint": None, "input_shape": [9]}
    assert set(layers[1]) == RECURRENT_KEYS - {"inner_activation"}
    assert set(layers[2]) == RECURRENT_KEYS | {"depth"}
    assert set(layers[3]) == RECURRENT_KEYS | {"forget_bias_init"}
    assert set(layers[4]) == set(layers[5]) == set(layers[9]) == RECURRENT_KEYS
    assert set(layers[6]) == DENSE_KEYS | {"input_length"}
    assert layers[7] == {"name": "Activation", "activation": "relu", "target": 0, "beta": 0.1}
    assert layers[8] == {"name": "Dropout", "p": 0.5}
    assert set(layers[10]) == DENSE_KEYS
    assert [l["name"] for l in layers] == [type(l).__name__ for l in m.layers]


def test_first_layer_input_shape_is_written():
    m = r.Sequential()
    m.add(r.LSTM(4, input_dim=3))
    m.add(r.Dense(2, input_dim=4))
    layers = json.loads(m.to_json())["layers"]
    assert layers[0]["input_dim"] == 3 and layers[0]["input_length"] is None
    assert layers[0]["input_shape"] == [None, 3]
    assert layers[1]["input_dim"] == 4 and layers[1]["input_shape"] == [4]


def test_time_distributed_dense_input_shape_is_written_as_0_2_0_did():
    m = r.Sequential()
    m.add(r.TimeDistributedDense(4, input_dim=3))
    (layer,) = json.loads(m.to_json())["layers"]
    assert layer["input_dim"] == 3 and layer["input_length"] is None and layer["input_shape"] == [None, 3]
    cfg = {"name": "Sequential", "layers": [dict(layer, input_length=6, input_shape=[6, 3])]}
    loaded = r.model_from_json(json.dumps(cfg))
    assert loaded.input_shape == (6, 3)
    assert loaded.predict(np.ones((2, 6, 3))).shape == (2, 6, 4)


def test_callable_activation_cannot_be_written():
    m = r.Sequential()
    m.add(r.SimpleRNN(3, activation=np.tanh, input_shape=(None, 2)))
    with pytest.raises(ConfigError, match="callable"):
        m.to_json()


# -------------------------------------------------------------------------------------------
# round trips: every layer type, float32 and float64, JSON and YAML, bit for bit
# -------------------------------------------------------------------------------------------
NON_DEFAULT = {
    "SimpleRNN": dict(activation="relu", init="uniform", inner_init="glorot_normal", truncate_gradient=2),
    "SimpleDeepRNN": dict(depth=2, activation="tanh", inner_activation="sigmoid", init="he_uniform"),
    "GRU": dict(activation="tanh", inner_activation="sigmoid", truncate_gradient=3),
    "LSTM": dict(forget_bias_init="zero", activation="softplus", inner_activation="sigmoid",
                 inner_init="lecun_uniform"),
    "JZS1": dict(activation="relu", inner_activation="hard_sigmoid"),
    "JZS2": dict(activation="linear", inner_init="normal"),
    "JZS3": dict(inner_activation="hard_sigmoid", init="glorot_normal"),
}


def _recurrent_model(kind, dtype):
    cls = getattr(r, kind)
    m = r.Sequential(dtype=dtype, seed=3)
    m.add(r.Embedding(10, 4, mask_zero=True))
    m.add(cls(5, return_sequences=True, **NON_DEFAULT[kind]))
    m.add(cls(3))
    m.add(r.Dense(2, activation="softmax"))
    return m, _ids(vocab=10)


def _plain_model(dtype):
    m = r.Sequential(dtype=dtype, seed=4)
    m.add(r.Masking(mask_value=0.0, input_shape=(None, 3)))
    m.add(r.TimeDistributedDense(4, activation="relu", init="he_normal"))
    m.add(r.Dropout(0.2))
    m.add(r.Activation("tanh"))
    m.add(r.SimpleRNN(3))
    m.add(r.Dense(2, activation="sigmoid"))
    return m, _floats()


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(NON_DEFAULT) + ["non-recurrent"])
def test_round_trip_bit_for_bit(tmp_path, kind, dtype, fmt):
    m, X = _plain_model(dtype) if kind == "non-recurrent" else _recurrent_model(kind, dtype)
    # perturb every weight so defaults (zeros, ones, identity P) cannot hide a mix-up
    rng = np.random.default_rng(9)
    m.set_weights([w + rng.normal(0, 0.1, w.shape) for w in m.get_weights()])
    text = m.to_json() if fmt == "json" else m.to_yaml()
    path = tmp_path / "w.h5"
    m.save_weights(str(path))
    with h5py.File(path, "r") as f:
        assert all(f[f"layer_{k}/param_{j}"].dtype == np.dtype(dtype)
                   for k, layer in enumerate(m.layers) for j in range(len(layer.weight_names)))
    loaded = (r.model_from_json if fmt == "json" else r.model_from_yaml)(text, dtype=dtype)
    loaded.load_weights(str(path))
    _assert_same_weights(m, loaded)
    for a, b in zip(m.layers, loaded.layers):
        assert type(a) is type(b) and a.get_config() == b.get_config()
    Y0, Y1 = m.predict(X), loaded.predict(X)
    assert Y1.dtype == np.dtype(dtype)
    assert np.array_equal(Y0, Y1)


# -------------------------------------------------------------------------------------------
# the HDF5 layout we write is 0.2.0's
# -------------------------------------------------------------------------------------------
def test_save_weights_layout(tmp_path):
    m = _api_model("every_recurrent")
    path = tmp_path / "w.h5"
    m.save_weights(str(path))
    with h5py.File(path, "r") as f:
        assert int(f.attrs["nb_layers"]) == 12
        assert sorted(f.keys(), key=lambda s: int(s.split("_")[1])) == [f"layer_{k}" for k in range(12)]
        for k, layer in enumerate(m.layers):
            g = f[f"layer_{k}"]
            assert int(g.attrs["nb_params"]) == len(layer.weight_names)
            assert len(g.keys()) == len(layer.weight_names)  # weightless layers: empty group
            for j, w in enumerate(layer.get_weights()):
                d = g[f"param_{j}"]
                assert d.dtype == np.float32 and d.shape == w.shape
                assert np.array_equal(d[()], w)


def test_save_weights_refuses_existing_file_unless_overwrite(tmp_path):
    m, _ = _plain_model("float32")
    path = tmp_path / "w.h5"
    path.write_bytes(b"keep me")
    with pytest.raises(KerasFileError, match="already exists"):
        m.save_weights(str(path))
    assert path.read_bytes() == b"keep me"
    m.save_weights(str(path), overwrite=True)
    with h5py.File(path, "r") as f:
        assert int(f.attrs["nb_layers"]) == len(m.layers)


def test_save_weights_is_atomic(tmp_path, monkeypatch):
    m, _ = _plain_model("float32")
    path = tmp_path / "w.h5"
    path.write_bytes(b"old contents")
    calls = []
    original = h5py.Group.create_dataset

    def failing(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(KerasFileError, match="No space left"):
        m.save_weights(str(path), overwrite=True)
    assert path.read_bytes() == b"old contents"
    assert sorted(os.listdir(tmp_path)) == ["w.h5"]  # no temp file left behind
    calls.clear()
    with pytest.raises(KerasFileError):
        m.save_weights(str(tmp_path / "new.h5"))
    assert sorted(os.listdir(tmp_path)) == ["w.h5"]


# -------------------------------------------------------------------------------------------
# Keras 0.1.x configs and compiled configs
# -------------------------------------------------------------------------------------------
def test_keras01_config_maps_positional_input_dim(fx):
    model = build.load_model(_path(fx, "keras01.json"), _path(fx, "keras01.h5"))
    assert model.layers[2].activation.name == "softmax"  # 0.1.x's time_distributed_softmax
    assert model.layers[1].input_shape == (None, 3)
    # a float-input 0.1.x model: its first layer's input_dim is the model's input width
    cfg = {"name": "Sequential", "layers": [
        {"name": "LSTM", "input_dim": 3, "output_dim": 4, "init": "glorot_uniform", "inner_init": "orthogonal",
         "forget_bias_init": "one", "activation": "tanh", "inner_activation": "hard_sigmoid",
         "truncate_gradient": -1, "return_sequences": True},
        {"name": "TimeDistributedDense", "input_dim": 4, "output_dim": 2, "init": "glorot_uniform",
         "activation": "linear"}]}
    model = r.model_from_json(json.dumps(cfg))
    assert model.input_shape == (None, 3)
    assert model.predict(_floats()).shape == (5, 6, 2)


def test_keras01_input_dim_mismatch_is_named():
    cfg = {"name": "Sequential", "layers": [
        {"name": "Embedding", "input_dim": 10, "output_dim": 3},
        {"name": "GRU", "input_dim": 5, "output_dim": 4}]}
    with pytest.raises(KerasFileError, match=r"layer 1 \(GRU\).*input width is 5.*outputs width 3"):
        r.model_from_json(json.dumps(cfg), keras_version="0.1.3")


def test_compiled_config_restores_the_optimizer(fx):
    for ext in ("json", "yaml"):
        model = build.load_model(_path(fx, f"compiled.{ext}"), _path(fx, "compiled.h5"))
        assert model.optimizer.get_config() == {"name": "SGD", "lr": float(np.float32(0.05)),
                                                "momentum": float(np.float32(0.9)),
                                                "decay": float(np.float32(1e-4)), "nesterov": True}
        assert model.loss == "categorical_crossentropy" and model.class_mode == "categorical"
    assert getattr(build.load_model(_path(fx, "compiled.json"), compile=False), "optimizer", None) is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_round_trip_widens_float32_settings(dtype):
    m = r.Sequential(dtype=dtype)
    m.add(r.LSTM(3, input_shape=(None, 2)))
    m.compile(r.optimizers.Adam(lr=0.002, beta_1=0.8), "mse", class_mode="binary")
    cfg = json.loads(m.to_json())
    widened = float(np.float32(0.002)) if dtype == "float32" else 0.002
    assert cfg["optimizer"] == {"name": "Adam", "lr": widened, "beta_1": 0.8, "beta_2": 0.999, "epsilon": 1e-8}
    assert cfg["loss"] == "mean_squared_error"
    assert cfg["class_mode"] == "binary" and cfg["theano_mode"] is None
    for text, load in ((m.to_json(), r.model_from_json), (m.to_yaml(), r.model_from_yaml)):
        back = load(text, dtype=dtype)
        assert back.optimizer.get_config() == cfg["optimizer"]
        assert back.loss == "mean_squared_error" and back.class_mode == "binary"


def test_compiled_config_errors():
    base = {"name": "Sequential", "layers": [{"name": "Dense", "output_dim": 2, "input_dim": 3}],
            "loss": "mse", "class_mode": "categorical"}
    with pytest.raises(KerasFileError, match="unknown optimizer 'Nadam'.*SGD"):
        r.model_from_json(json.dumps(dict(base, optimizer={"name": "Nadam"})))
    with pytest.raises(KerasFileError, match="unexpected argument 'momentum'"):
        r.model_from_json(json.dumps(dict(base, optimizer={"name": "Adam", "momentum": 0.9})))
    with pytest.raises(KerasFileError, match="unknown loss 'huber'"):
        r.model_from_json(json.dumps(dict(base, optimizer={"name": "SGD"}, loss="huber")))
    # hand-written YAML: 1e-08 (no dot) is a string to YAML 1.1; the setting still loads
    text = ("name: Sequential\nlayers:\n- {name: Dense, output_dim: 2, input_dim: 3}\n"
            "optimizer: {name: Adam, epsilon: 1e-08}\nloss: mse\n")
    assert r.model_from_yaml(text).optimizer.epsilon == 1e-8


# -------------------------------------------------------------------------------------------
# broken files: one clear error naming what is wrong; the model is left unchanged
# -------------------------------------------------------------------------------------------
BROKEN = {
    "missing_group": r"layer 1 \(GRU gru_1\): group 'layer_1' of .* is missing",
    "nb_params": r"layer 1 \(GRU gru_1\): the file has nb_params=8, but the layer has 9 weight arrays",
    "nb_layers": r"weights for 4 layers, but the model has 3",
    "shape": r"layer 1 \(GRU gru_1\): param 3 \(W_r\) has shape \(5, 4\) in the file, but the layer expects \(3, 4\)",
    "dtype": r"layer 2 \(Dense dense_1\): param 0 \(W\) has dtype int32, expected floating point",
    "missing_param": r"layer 1 \(GRU gru_1\): dataset param 8 \(b_h\) is missing",
    "truncated": r"not a readable HDF5 file \(truncated",
    "not_hdf5": r"not a readable HDF5 file",
}


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_broken_weights(fx, variant):
    model = build.load_model(_path(fx, "keras01.json"), _path(fx, "keras01.h5"))
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(KerasFileError, match=BROKEN[variant]):
        model.load_weights(_path(fx, f"broken_{variant}.h5"))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_broken_weights_more(tmp_path, fx):
    model = build.load_model(_path(fx, "keras01.json"))
    with pytest.raises(KerasFileError, match="does not exist"):
        model.load_weights(str(tmp_path / "nope.h5"))
    path = str(tmp_path / "attr.h5")
    mf.write_weights(path, mf.arrays("keras01"))
    with h5py.File(path, "a") as f:
        f.attrs["nb_layers"] = "three"
    with pytest.raises(KerasFileError, match="'nb_layers' must be one integer"):
        model.load_weights(path)
    with h5py.File(path, "w") as f:  # a Graph model's weights file
        f.create_group("graph").attrs["nb_params"] = 0
    with pytest.raises(KerasFileError, match="Graph"):
        model.load_weights(path)
    # the data of a dataset is unreadable although the header is intact
    mf.write_weights(path, mf.arrays("keras01"))
    with h5py.File(path, "r") as f:
        offset = f["layer_1/param_0"].id.get_offset()
        size = f["layer_1/param_0"].id.get_storage_size()
    with open(path, "r+b") as f:
        f.truncate(offset + size // 2)
    with pytest.raises(KerasFileError, match="truncated|corrupt"):
        model.load_weights(path)


def test_data_outside_the_file_is_refused(tmp_path, fx):
    """Links and external storage could make a weights file read other files on the machine."""
    model = build.load_model(_path(fx, "keras01.json"))
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(12, dtype=np.float32).tobytes())
    path = str(tmp_path / "w.h5")

    def rewrite(mutate):
        mf.write_weights(path, mf.arrays("keras01"))
        with h5py.File(path, "a") as f:
            del f["layer_1/param_0"]
            mutate(f["layer_1"])

    rewrite(lambda g: g.create_dataset("param_0", (3, 4), dtype=np.float32,
                                       external=[(str(secret), 0, 48)]))
    with pytest.raises(KerasFileError, match=r"layer 1 \(GRU gru_1\).*outside the file"):
        model.load_weights(path)
    rewrite(lambda g: g.__setitem__("param_0", h5py.ExternalLink(_path(fx, "keras01.h5"), "layer_1/param_0")))
    with pytest.raises(KerasFileError, match="ExternalLink.*refused"):
        model.load_weights(path)
    rewrite(lambda g: g.__setitem__("param_0", h5py.SoftLink("/layer_1/param_1")))
    with pytest.raises(KerasFileError, match="SoftLink.*refused"):
        model.load_weights(path)


def _rewrite_dense(path, create):
    """The keras01 weights with the Dense's W (4 x 3) replaced by `create(group, name, shape)`."""
    mf.write_weights(path, mf.arrays("keras01"))
    with h5py.File(path, "a") as f:
        del f["layer_2/param_0"]
        create(f["layer_2"], "param_0", (4, 3))


def _compact(group, name, shape, data):
    plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    plist.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple(shape)
    dataset = h5py.h5d.create(group.id, name.encode(), h5py.h5t.IEEE_F32LE, space, dcpl=plist)
    dataset.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(data, np.float32))


@pytest.mark.parametrize("kind,message", [
    ("chunks never written", "declares 48 bytes but the file stores 0"),
    ("chunks partly written", "declares 48 bytes but the file stores 16"),
    ("contiguous at its fill value", "declares 48 bytes but the file stores 0"),
    ("compressed", "is stored compressed or filtered"),
])
def test_datasets_whose_storage_does_not_hold_their_data_are_refused(tmp_path, fx, kind, message):
    """A 2,880-byte file may declare a 1000 x 1000 dataset stored as never-written chunks
    (or left at its fill value, or compressed a thousandfold): reading it allocates what
    it declares, not what the file holds. Keras wrote contiguous datasets in full."""
    W = mf.arrays("keras01")[2][0].astype(np.float32)
    create = {
        "chunks never written": lambda g, n, shape: g.create_dataset(n, shape, np.float32, chunks=(1, 1)),
        "chunks partly written": lambda g, n, shape: g.create_dataset(n, shape, np.float32, chunks=(1, 1))
        .__setitem__((slice(0, 1), slice(0, 3)), W[:1]) or g[n].__setitem__((1, 0), 1.0),
        "contiguous at its fill value": lambda g, n, shape: g.create_dataset(n, shape, np.float32, fillvalue=0.5),
        "compressed": lambda g, n, shape: g.create_dataset(n, data=W, compression="gzip"),
    }[kind]
    path = str(tmp_path / "w.h5")
    _rewrite_dense(path, create)
    model = build.load_model(_path(fx, "keras01.json"))
    with pytest.raises(KerasFileError, match=r"layer 2 \(Dense dense_1\): param 0 \(W\) " + message):
        model.load_weights(path)


@pytest.mark.parametrize("layout", ["compact", "chunked, written in full"])
def test_datasets_stored_in_full_are_read_whatever_their_layout(tmp_path, fx, layout):
    W = mf.arrays("keras01")[2][0].astype(np.float32)
    create = {"compact": lambda g, n, shape: _compact(g, n, shape, W),
              "chunked, written in full": lambda g, n, shape: g.create_dataset(n, data=W, chunks=(1, 3))}[layout]
    path = str(tmp_path / "w.h5")
    _rewrite_dense(path, create)
    model = build.load_model(_path(fx, "keras01.json"), path)
    np.testing.assert_array_equal(model.layers[2].get_weights()[0], W)


def test_float_widths_are_cast_to_the_model_dtype(tmp_path):
    arrays = [[w.astype(np.float64) for w in layer] for layer in mf.arrays("keras01")]
    arrays[2] = [w.astype(np.float16) for w in arrays[2]]
    path = str(tmp_path / "w64.h5")
    mf.write_weights(path, arrays)
    cfg = json.dumps(mf.config("keras01"))
    m32 = r.model_from_json(cfg, dtype="float32")  # an explicit dtype wins over the file's
    m32.load_weights(path)
    assert all(w.dtype == np.float32 for w in m32.get_weights())
    assert np.array_equal(m32.get_weights()[1], arrays[1][0].astype(np.float32))
    m64 = r.model_from_json(cfg, dtype="float64")
    m64.load_weights(path)
    assert np.array_equal(m64.get_weights()[1], arrays[1][0])


def test_weights_reveal_the_input_width_of_an_unbuilt_config(tmp_path):
    cfg = {"name": "Sequential", "layers": [
        {"name": "Masking", "mask_value": 0.0},
        {"name": "LSTM", "output_dim": 4, "return_sequences": False},
        {"name": "Dense", "output_dim": 2}]}
    rng = np.random.default_rng(0)
    weights = [[], [rng.normal(size=s).astype(np.float32) for s in [(3, 4), (4, 4), (4,)] * 4],
               [rng.normal(size=(4, 2)).astype(np.float32), np.zeros(2, np.float32)]]
    path = str(tmp_path / "w.h5")
    mf.write_weights(path, weights)
    model = r.model_from_json(json.dumps(cfg), keras_version="0.2.0")  # Masking: the release's mask rule
    assert not model.layers[1].built
    model.load_weights(path)
    assert model.input_shape == (None, 3)
    assert model.predict(_floats()).shape == (5, 2)
    # a bad shape there is still reported, and nothing gets built
    weights[1][4] = np.zeros((4, 5), np.float32)
    mf.write_weights(path, weights)
    model = r.model_from_json(json.dumps(cfg), keras_version="0.2.0")
    with pytest.raises(KerasFileError, match=r"param 4 \(U_c\) has shape \(4, 5\)"):
        model.load_weights(path)
    assert not any(layer.built for layer in model.layers)


# -------------------------------------------------------------------------------------------
# broken or hostile configs
# -------------------------------------------------------------------------------------------
def test_unknown_layer_lists_accepted(fx):
    with pytest.raises(KerasFileError) as info:
        build.load_model(_path(fx, "broken_unknown_layer.json"))
    message = str(info.value)
    assert "layer 1 (BiLSTM): unknown layer type 'BiLSTM'" in message
    for name in ("Embedding", "Masking", "Dense", "TimeDistributedDense", "Activation", "Dropout",
                 "SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3"):
        assert name in message


@pytest.mark.parametrize("text, pattern", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a mapping"),
    ('{"name": "Keras", "layers": []}', "'Keras' is not supported; accepted: Sequential, Graph"),
    ('{"layers": [{"name": "GRU", "output_dim": 3}]}', 'does not name its model type .*"name": "Sequential"'),
    ('{"name": "Sequential", "layers": []}', "non-empty list"),
    ('{"name": "Sequential", "layers": [{"name": "Sequential", "layers": []}]}',
     r"layer 0 \(Sequential\): a Sequential container is not supported here"),
    ('{"name": "Sequential", "layers": [{"name": "LSTM", "output_dim": 3, "peepholes": true}]}',
     r"layer 0 \(LSTM\): unknown config key 'peepholes'"),
    ('{"name": "Sequential", "layers": [{"name": "GRU", "output_dim": 3, "activation": "swish"}]}',
     r"layer 0 \(GRU\): unknown activation 'swish'"),
    ('{"name": "Sequential", "layers": [{"name": "GRU", "output_dim": 3, "truncate_gradient": 0}]}',
     r"layer 0 \(GRU\).*truncate_gradient"),
    ('{"name": "Sequential", "layers": [{"name": "GRU", "output_dim": "many"}]}', "output_dim must be"),
    ('{"name": "Sequential", "layers": [{"name": "GRU", "output_dim": 3, "input_shape": [null, -2]}]}',
     "input_shape entries"),
    ('{"name": "Sequential", "layers": [{"name": "GRU", "output_dim": 3, "go_backwards": true}]}',
     "fit Keras 0.3.0–0.3.3, whose rules compute different numbers"),  # 0.3.0's GRU, 0.3.3's default
])
def test_bad_json_configs(text, pattern):
    with pytest.raises(KerasFileError, match=pattern):
        r.model_from_json(text)


def test_yaml_loader_is_safe(tmp_path):
    marker = tmp_path / "pwned"
    hostile = ("name: Sequential\nlayers:\n- name: !!python/object/apply:os.system "
               f"['touch {marker}']\n  output_dim: 3\n")
    with pytest.raises(KerasFileError, match="tag that is not allowed"):
        r.model_from_yaml(hostile)
    assert not marker.exists()
    with pytest.raises(KerasFileError, match="tag that is not allowed"):
        r.model_from_yaml("name: !!python/name:os.system\nlayers: []\n")
    with pytest.raises(KerasFileError, match="not valid YAML"):
        r.model_from_yaml("name: [unclosed\n")
    # the safe loader was extended in a subclass only
    import yaml
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load("a: !!python/tuple [1, 2]")
    assert yaml.load("a: !!python/tuple [1, 2]", Loader=text.KerasYamlLoader) == {"a": (1, 2)}


def test_ignored_training_only_keys():
    # a recurrent layer took no regularizer in 0.2.0 (0.3.3 wrote them): listed, without effect
    cfg = {"name": "Sequential", "layers": [
        {"name": "LSTM", "output_dim": 2, "input_dim": 3, "U_regularizer": {"name": "WeightRegularizer", "l2": 0.01},
         "trainable": True, "cache_enabled": True}]}
    model = r.model_from_json(json.dumps(cfg))
    assert model.keras_version == "0.3.3"
    assert any("without effect at inference: U_regularizer, cache_enabled, trainable" in n for n in model.keras_notes)
    assert model.predict(np.ones((2, 4, 3))).shape == (2, 2)


def test_inline_parameters_of_early_configs():
    W, b = np.arange(6.0).reshape(3, 2) / 10, np.array([0.5, -0.5])
    cfg = {"name": "Sequential", "layers": [
        {"name": "Dense", "input_dim": 3, "output_dim": 2,
         "parameters": [{"data": W.ravel().tolist(), "shape": [3, 2]}, {"data": b.tolist(), "shape": [2]}]}]}
    model = r.model_from_json(json.dumps(cfg), dtype="float64")
    assert np.array_equal(model.get_weights()[0], W) and np.array_equal(model.get_weights()[1], b)
    cfg["layers"][0]["parameters"][0]["shape"] = [2, 2]
    with pytest.raises(KerasFileError, match="6 values for shape"):
        r.model_from_json(json.dumps(cfg))


def test_config_file_sniffing(tmp_path, fx):
    with open(_path(fx, "keras01.yaml")) as f:
        text = f.read()
    (tmp_path / "model.cfg").write_text(text)
    (tmp_path / "model.txt").write_text(json.dumps(mf.config("keras01")))
    for name in ("model.cfg", "model.txt"):
        model = build.load_model(str(tmp_path / name), _path(fx, "keras01.h5"))
        _assert_same_weights(model, _api_model("keras01"))
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(KerasFileError, match="not UTF-8"):
        build.load_model(str(tmp_path / "bin.json"))


# -- which dtype a loaded model computes in (SPEC "Which dtype a loaded model computes in") --
def _weights_in(dtype, tmp_path, name="keras01"):
    arrays = [[w.astype(dtype) for w in layer] for layer in mf.arrays(name)]
    path = str(tmp_path / f"{name}_{np.dtype(dtype).name}.h5")
    mf.write_weights(path, arrays)
    return path, arrays


def _write_cfg(tmp_path):
    cfg_path = tmp_path / "keras01.json"
    cfg_path.write_text(json.dumps(mf.config("keras01")))
    return str(cfg_path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("how", ["json", "yaml", "load_model"])
def test_a_loaded_model_computes_in_its_weights_files_dtype(tmp_path, dtype, how):
    path, arrays = _weights_in(dtype, tmp_path)
    cfg = mf.config("keras01")
    if how == "load_model":
        model = build.load_model(_write_cfg(tmp_path), path)
    else:
        model = r.model_from_json(json.dumps(cfg)) if how == "json" else r.model_from_yaml(mf.to_yaml_text(cfg))
        assert (model.dtype, model.dtype_from) == (np.float32, "default: no weights file")
        model.load_weights(path)
    assert (model.dtype, model.dtype_from) == (np.dtype(dtype), "from the weights file")
    assert all(w.dtype == np.dtype(dtype) for w in model.get_weights())
    # the float64 computation of the same weights, through the public API
    reference = r.model_from_json(json.dumps(cfg), dtype="float64")
    reference.set_weights([w.astype(np.float64) for layer in arrays for w in layer])
    X = _ids()
    Y, Y64 = model.predict(X), reference.predict(X)
    assert Y.dtype == np.dtype(dtype)
    if dtype == "float64":
        assert np.array_equal(Y, Y64)
    else:
        assert np.max(np.abs(Y - Y64)) <= 1e-5 * np.max(np.abs(Y64))


def test_an_explicit_dtype_wins_and_python_models_default_to_float32(tmp_path):
    path, _ = _weights_in("float64", tmp_path)
    model = r.model_from_json(json.dumps(mf.config("keras01")), dtype="float32")
    model.load_weights(path)
    assert (model.dtype, model.dtype_from) == (np.float32, "dtype argument")
    assert r.Sequential().dtype == np.float32


def test_a_later_weights_file_decides_again(tmp_path):
    path64, _ = _weights_in("float64", tmp_path)
    path32, _ = _weights_in("float32", tmp_path)
    model = build.load_model(_write_cfg(tmp_path), path64)
    assert model.dtype == np.float64
    model.load_weights(path32)
    assert model.dtype == np.float32 and all(w.dtype == np.float32 for w in model.get_weights())


@pytest.mark.parametrize("odd", [np.float32, np.float16])
def test_a_file_of_mixed_float_widths_is_refused_without_a_dtype(tmp_path, odd):
    arrays = [[w.astype(np.float64) for w in layer] for layer in mf.arrays("keras01")]
    arrays[2] = [w.astype(odd) for w in arrays[2]]
    path = str(tmp_path / "mixed.h5")
    mf.write_weights(path, arrays)
    model = r.model_from_json(json.dumps(mf.config("keras01")))
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(KerasFileError, match=r"layer 2 \(Dense\) param 0 \(W\) is stored as "
                       + np.dtype(odd).name + r", but layer 0 \(Embedding\).*pass dtype="):
        model.load_weights(path)
    assert model.dtype_from == "default: no weights file"  # left unchanged
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_float16_file_needs_a_dtype(tmp_path):
    path, _ = _weights_in("float16", tmp_path)
    with pytest.raises(KerasFileError, match=r"layer 0 \(Embedding\) param 0 \(E\) is stored as float16"):
        build.load_model(_write_cfg(tmp_path), path)
    assert build.load_model(_write_cfg(tmp_path), path, dtype="float64").dtype == np.float64


def test_keras_float64_file_loaded_without_a_dtype_reproduces_keras():
    """Oracle: Keras 0.2.0 on Theano (floatX=float64) wrote the file and its predictions."""
    fx = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "keras02")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its regularizers/constraints: training only
        model = build.load_model(os.path.join(fx, "regularizers_nonneg_config.json"),
                                  os.path.join(fx, "regularizers_nonneg_config.h5"))
    data = np.load(os.path.join(fx, "regularizers_nonneg_config.npz"))
    assert model.dtype == np.float64
    Y = model.predict(data["X"])
    assert np.max(np.abs(Y - data["Y"])) <= 1e-12 * np.max(np.abs(data["Y"]))
