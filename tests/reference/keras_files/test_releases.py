"""Telling Keras releases apart from their config keys, and each release's rules.

Expected values: the key table page is compared with the table it is generated from; the
0.1.x JZS files are compared with the same model built through the public API with the
identity projection passed explicitly; every other figure comes from files the releases
wrote (test_release_fixtures.py, tests/fixtures/keras02)."""
import glob
import json
import os

import numpy as np
import pytest

import reference as r
from reference.keras_files import KerasFileError, keras0, releases

from ...fixtures.legacy import make_fixtures as mf

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
KERAS02 = os.path.join(ROOT, "tests", "fixtures", "keras02")


def test_the_key_table_page_is_current():
    page = open(os.path.join(ROOT, "docs", "keras-files.md")).read()
    start = page.index("-->\n", page.index("<!-- key table")) + 4
    end = page.index("<!-- end of key table -->")
    assert page[start:end].strip() == releases.key_table_markdown()


def test_every_keras_0_2_0_file_is_told_as_0_2_0():
    configs = [c for c in sorted(glob.glob(os.path.join(KERAS02, "*.json"))) if not c.endswith("MANIFEST.json")]
    assert len(configs) >= 30
    for path in configs:
        model = r.load_model(path)
        assert model.keras_version == "0.2.0", (path, model.keras_release)
        assert model.keras_release.startswith("Keras 0.2.0: ") and "config keys" in model.keras_release


def test_a_named_release_the_keys_contradict_is_refused():
    path = os.path.join(KERAS02, "addition_rnn_f64.json")
    with pytest.raises(KerasFileError, match=r"not written by Keras 0\.3\.2: .*theano_mode \(its keys fit Keras 0\.2\.0\)"):
        r.load_model(path, keras_version="0.3.2")
    assert r.load_model(path, keras_version="0.2.0").keras_release == "Keras 0.2.0: named by the caller"


def test_an_unknown_release_lists_the_accepted_ones():
    with pytest.raises(KerasFileError, match=r"unknown Keras release '1\.2\.2'; accepted: 0\.1\.0, 0\.1\.1, .*0\.3\.3"):
        r.load_model(os.path.join(KERAS02, "addition_rnn_f64.json"), keras_version="1.2.2")


def _masked_lstm(**lstm_keys):
    return {"name": "Sequential", "layers": [
        {"name": "Embedding", "input_dim": 7, "output_dim": 4, "mask_zero": True},
        dict({"name": "LSTM", "input_dim": 4, "output_dim": 5, "return_sequences": True}, **lstm_keys)]}


def test_candidates_whose_numbers_differ_are_named_in_the_refusal():
    # go_backwards: 0.3.0 on; no other telling key: 0.3.0-0.3.3, with three different mask rules
    config = _masked_lstm(go_backwards=False)
    with pytest.raises(KerasFileError, match=r"fit Keras 0\.3\.0–0\.3\.3, whose rules compute different numbers"):
        r.model_from_json(json.dumps(config))
    # the same model unmasked computes alike in every one of them
    config["layers"][0]["mask_zero"] = False
    model = r.model_from_json(json.dumps(config))
    assert model.keras_version == "0.3.0–0.3.3"
    assert any("edited by hand" in note for note in model.keras_notes)


def test_keys_present_and_absent_narrow_the_release():
    exact, present, why = keras0.candidates(_masked_lstm(go_backwards=False, stateful=False, cache_enabled=True))
    assert exact == set() and present == releases.span("0.3.1")
    full = {"trainable": True, "cache_enabled": True, "custom_name": "lstm", "go_backwards": False,
            "stateful": False, "input_length": None, "init": "glorot_uniform", "inner_init": "orthogonal",
            "forget_bias_init": "one", "activation": "tanh", "inner_activation": "hard_sigmoid"}
    config = _masked_lstm(**full)
    for layer in config["layers"]:
        layer.update(trainable=True, cache_enabled=True, custom_name="x")
    config["layers"][0].update(input_length=7, init="uniform")
    exact, _, why = keras0.candidates(config)
    assert exact == {"0.3.2"}
    assert "no config key dropout" in why["0.3.3"]
    assert why["0.3.1"].endswith("config key custom_name")


def test_the_reason_names_the_fewest_telling_keys():
    config = _masked_lstm(go_backwards=False, stateful=False, cache_enabled=True, trainable=True, custom_name="l",
                          input_length=None, activation="tanh", inner_activation="hard_sigmoid")
    config["layers"][0].update(cache_enabled=True, trainable=True, custom_name="e", input_length=None)
    # forget_bias_init and init left out: no release wrote exactly this; 0.3.2 and 0.3.3 agree on it
    spec = keras0.read_config(config)
    assert spec.summary == "Keras 0.3.2–0.3.3: config keys custom_name"
    assert any("edited by hand" in note for note in spec.notes)
    config["layers"][1].update(init="glorot_uniform", inner_init="orthogonal", forget_bias_init="one")
    config["layers"][0].update(init="uniform")
    assert keras0.read_config(config).summary == "Keras 0.3.2: config keys custom_name; without dropout"


def test_every_table_key_names_known_releases_and_an_effect():
    for key in releases.KEYS:
        assert key.always <= key.written <= releases.ALL, key.key
        assert key.effect and (key.has_effect or key.effect.startswith("no effect at inference: ")), key.key


def _jzs_keras01(tmp_path, kind, d, k):
    """A 0.1.x JZS file: the config as 0.1.x's get_config wrote it, the weights without P."""
    config = {"name": "Sequential", "layers": [
        {"name": kind, "input_dim": d, "output_dim": k, "init": "glorot_uniform", "inner_init": "orthogonal",
         "activation": "tanh", "inner_activation": "sigmoid", "truncate_gradient": -1, "return_sequences": True}]}
    weights = [w.astype(np.float64) for w in mf._recurrent_weights(np.random.default_rng(3), kind, d, k)]
    path = str(tmp_path / f"{kind}.h5")
    mf.write_weights(path, [weights[:-1]])  # 0.1.x's params list ends before P
    cfg = tmp_path / f"{kind}.json"
    cfg.write_text(json.dumps(config))
    return str(cfg), path, weights


@pytest.mark.parametrize("kind", ["JZS1", "JZS2"])
def test_keras01_jzs_files_take_the_identity_projection_they_computed_with(tmp_path, kind):
    cfg, h5, weights = _jzs_keras01(tmp_path, kind, 4, 4)
    model = r.load_model(cfg, h5)
    assert model.keras_version == "0.1.2–0.1.3"
    expected = r.Sequential(dtype="float64")
    expected.add(getattr(r, kind)(4, input_dim=4, return_sequences=True, weights=weights[:-1] + [np.eye(4)]))
    X = np.random.default_rng(0).normal(size=(3, 5, 4))
    np.testing.assert_array_equal(model.predict(X), expected.predict(X))


@pytest.mark.parametrize("kind", ["JZS1", "JZS2"])
def test_keras01_jzs_files_with_a_random_projection_are_refused(tmp_path, kind):
    cfg, h5, _ = _jzs_keras01(tmp_path, kind, 3, 4)
    with pytest.raises(KerasFileError, match=rf"layer 0 \({kind}\): Keras 0\.1\.x did not save {kind}'s fixed "
                                             r"projection P, a random matrix .* its values are lost"):
        r.load_model(cfg, h5)


def _keras032(*layers):
    """A Sequential config as Keras 0.3.2 wrote it (every layer's base keys)."""
    base = {"trainable": True, "cache_enabled": True}
    return {"name": "Sequential", "layers": [dict(base, custom_name=layer["name"].lower(), **layer)
                                             for layer in layers]}


LSTM_032 = {"name": "LSTM", "input_shape": [6, 3], "input_dim": 3, "input_length": None, "output_dim": 4,
            "init": "glorot_uniform", "inner_init": "orthogonal", "forget_bias_init": "one", "activation": "tanh",
            "inner_activation": "hard_sigmoid", "return_sequences": False, "go_backwards": False, "stateful": False}


def test_keras_0_3_dropout_is_the_identity_at_inference():
    """0.3.x's Dropout scales in training (inverted dropout); 0.2.0's multiplied by 1 - p at
    prediction. Expected: the same layers without the Dropout."""
    dense = {"name": "Dense", "output_dim": 2, "init": "glorot_uniform", "activation": "linear",
             "input_dim": None}
    model = r.model_from_json(json.dumps(_keras032(LSTM_032, {"name": "Dropout", "p": 0.5}, dense)),
                              dtype="float64")
    assert model.keras_version == "0.3.2"
    assert any("Dropout(p=0.5) is the identity at inference" in note for note in model.keras_notes)
    plain = r.Sequential(dtype="float64")
    plain.add(r.LSTM(4, input_shape=(6, 3), weights=model.layers[0].get_weights()))
    plain.add(r.Dense(2, weights=model.layers[2].get_weights()))
    X = np.random.default_rng(1).normal(size=(5, 6, 3))
    np.testing.assert_array_equal(model.predict(X), plain.predict(X))


def test_keras_0_3_layers_and_containers_not_checked_are_refused():
    bn = {"name": "BatchNormalization", "epsilon": 1e-6, "mode": 0, "momentum": 0.9}
    with pytest.raises(KerasFileError, match=r"layer 1 \(BatchNormalization\): a Keras 0\.3\.x BatchNormalization "
                                             r"layer is not read .*refused rather than computing 0\.2\.0's"):
        r.model_from_json(json.dumps(_keras032(LSTM_032, bn)))
    graph = json.load(open(os.path.join(KERAS02, "graph_two_io.json")))
    for key in ("optimizer", "loss", "theano_mode"):
        graph.pop(key, None)
    for node in graph["nodes"].values():
        node.update(cache_enabled=True)
        if node.pop("truncate_gradient", None) is not None:  # a recurrent node, as 0.3.x writes it
            node.update(go_backwards=False, stateful=False)
            node["name"] = "GRU" if node["name"] not in ("LSTM", "SimpleRNN") else node["name"]
            node.pop("depth", None)
    with pytest.raises(KerasFileError, match=r"^the Graph config: a Keras 0\.3\.x Graph is not read"):
        r.model_from_json(json.dumps(graph))


def test_a_model_computing_a_later_rule_is_not_written_as_a_0_2_0_config():
    folder = os.path.join(ROOT, "tests", "fixtures", "keras_releases", "0.3.2")
    masked = r.load_model(os.path.join(folder, "emb_lstm_seq_f64.json"))
    with pytest.raises(r.ConfigError, match=r"mask_rule='carry' is a later Keras release's rule; a Keras 0\.2\.0 "
                                            "config cannot record it"):
        masked.to_json()
    unmasked = r.load_model(os.path.join(folder, "plain_lstm_seq_f64.json"))  # the same numbers as 0.2.0's
    assert json.loads(unmasked.to_json())["layers"][0]["name"] == "LSTM"


def test_the_key_table_agrees_with_what_each_release_wrote():
    """Every key a release's own files hold (tests/fixtures/keras_releases MANIFESTs) is a
    key the table says that release writes, or a setting of the reference layer; every key
    the table says a release always writes is in each of its files."""
    from .test_release_fixtures import CASES

    checked = 0
    for release, name, case in CASES:
        for kind, keys in case["config_layer_keys"]:
            table = releases.keys_for(kind)
            own = set(keras0.ACCEPTED_KEYS.get(kind, ())) | {"name"}
            for key in keys:
                assert key in own or (key in table and release in table[key].written), (release, name, kind, key)
            for key, k in table.items():
                stateful = "stateful" in name and key in ("input_dim", "input_length")
                if release in k.always and not stateful:
                    assert key in keys, (release, name, kind, key)
            checked += 1
        for key in case["config_top_level_keys"]:
            model_keys = releases.keys_for("model")
            assert key in ("name", "layers", "optimizer", "loss") or release in model_keys[key].written, (release, key)
    assert checked >= 300
