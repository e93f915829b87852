"""Files written by Keras 1.0.8, 1.2.2, 2.0.8, 2.1.6, 2.2.4, 2.3.1 on Theano and tf_keras 2.15.1 on TensorFlow
(tests/fixtures/keras_releases/{1.2.2,...,tf-2.15.1}, written by the releases themselves) load through the public API in both forms — the one
`model.save` file, and `to_json` + `save_weights` — with no release named, and reproduce that
release's `predict`: 1e-9 relative in float64, 2e-5 in float32, compared in the model's dtype.
The release and backend are told from the files. The cases REFUSED names are refused in one
sentence by design."""
import glob
import json
import os
import re

import numpy as np
import pytest

import reference as r
from reference.keras_files import KerasFileError

from ..helpers import record

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "keras_releases")
TOLERANCE = {"float64": 1e-9, "float32": 2e-5}
# refused by design, by case name prefix per release: what the refusal says
REFUSED = {
    # a 1.x file does not state its backend, and Theano's convolution flips the kernel
    ("1.", "conv_"): "does not state which backend wrote it",
}


def keras12_cases():
    """(release, case name, case) of every Keras 1.x/2.x fixture whose expected values exist."""
    out = []
    for manifest in sorted(glob.glob(os.path.join(FIXTURES, "[12].*", "MANIFEST.json")) + glob.glob(os.path.join(FIXTURES, "tf-*", "MANIFEST.json"))):
        release = os.path.basename(os.path.dirname(manifest))
        for name, case in json.load(open(manifest))["cases"].items():
            if "files" in case and (case.get("output_keys") or case.get("output_keys_original")):
                out.append((release, name, case))
    return out


CASES = keras12_cases()
FORMS = ("model.save", "to_json+save_weights")


def paths(release, case):
    folder, files = os.path.join(FIXTURES, release), case["files"]
    return {key: os.path.join(folder, value) for key, value in files.items()}


def load(release, case, form, **kwargs):
    p = paths(release, case)
    if form == "model.save":
        return r.load_model(p["model_h5"], **kwargs)
    return r.load_model(p["config_json"], p["weights_h5"], **kwargs)


def pending(case):
    """The refusal (a regular expression) a case gets by design; None if it must reproduce Keras."""
    release, name, case = case
    for (rel, prefix), text in REFUSED.items():
        if release.startswith(rel) and name.startswith(prefix):
            return text
    return None


def groups(case):
    """[(input keys, output keys)] of a case: X/Y, or X0, X1, .../Y0, Y1, ... (and the _step
    batch), in the model's input and output order."""
    outputs = case.get("output_keys") or case["output_keys_original"]
    out = []
    for suffix in ("", "_step"):
        def pick(keys, letter):
            chosen = [k for k in keys if re.fullmatch(letter + r"\d*" + suffix + "(_original)?", k)]
            return sorted(chosen, key=lambda k: int(re.sub(r"\D", "", k) or 0))
        xs, ys = pick(case["input_keys"], "X"), pick(outputs, "Y")
        if xs and ys:
            out.append((xs, ys))
    return out


def predict(model, arrays, xs):
    X = [arrays[k] for k in xs]
    Y = model.predict(X if len(X) > 1 else X[0])
    return Y if isinstance(Y, list) else [Y]


def stated_backend(case):
    """The backend the case's files state (root attribute `backend`), None for 1.x files."""
    return case.get("model_h5_layout", case.get("weights_layout", {})).get("attrs", {}).get("backend")


def relative_error(Y, expected):
    """max |Y - expected| / max |expected|; a NaN Keras computed (a masked average over no
    step) must be a NaN here too, at the same place."""
    Y, expected = np.asarray(Y), np.asarray(expected)
    nan = np.isnan(expected)
    if not np.array_equal(nan, np.isnan(Y)):
        return float("inf")
    Y, expected = Y[~nan], expected[~nan]
    return float(np.max(np.abs(Y - expected)) / max(np.max(np.abs(expected)), 1e-30))


def test_the_fixtures_are_there():
    assert {"1.2.2", "2.1.6"} <= {release for release, _, _ in CASES}
    assert len(CASES) >= 80


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("release,name,case", CASES, ids=[f"{r_}/{n}" for r_, n, _ in CASES])
def test_load_model_reproduces_the_release_that_wrote_the_file(release, name, case, form):
    refusal = pending((release, name, case))
    if refusal is not None:
        with pytest.raises(KerasFileError, match=refusal):
            load(release, case, form)
        return
    model = load(release, case, form)
    assert model.keras_version == release.removeprefix("tf-")  # tf-2.15.1/: tf_keras 2.15.1 wrote it
    assert model.keras_backend == stated_backend(case)  # 1.x files do not state it: None
    assert str(model.dtype) == case["floatX"]
    arrays = np.load(paths(release, case)["data_npz"])
    for xs, ys in groups(case):
        for Y, y_key in zip(predict(model, arrays, xs), ys):
            expected = arrays[y_key].astype(model.dtype)  # Keras returns float64 arrays; compare in the model's dtype
            assert Y.dtype == model.dtype and Y.shape == expected.shape
            error = record(f"Keras {release} fixtures, {case['floatX']}", relative_error(Y, expected))
            assert error <= TOLERANCE[case["floatX"]], (name, y_key, error)


SOME = [c for c in CASES if c[1] in ("emb_lstm_seq_f64", "gpu_emb_lstm_seq_f32", "mem_emb_gru_last_f64",
                                     "plain_simplernn_seq_f32", "compiled_emb_lstm_dense_f64")]


@pytest.mark.parametrize("release,name,case", SOME, ids=[f"{r_}/{n}" for r_, n, _ in SOME])
def test_both_forms_give_the_same_weights_and_the_release_line_says_why(release, name, case):
    a, b = load(release, case, "model.save"), load(release, case, "to_json+save_weights")
    assert [w.tobytes() for w in a.get_weights()] == [w.tobytes() for w in b.get_weights()]
    v1, version = release.startswith("1."), release.removeprefix("tf-")
    backend = "" if v1 else " (tensorflow)" if release.startswith("tf-") else " (theano)"
    assert a.keras_release == f"Keras {version}{backend}: file attribute keras_version" \
        + ("; Keras 1.x files do not state their backend" if v1 else "")
    assert b.keras_release.startswith(f"Keras {version}")
    assert "config key keras_version" in b.keras_release  # to_json writes it; 2.x's save_weights too
    if case["compiled"]:
        assert any("training_config" in note for note in a.keras_notes)


def test_a_named_dtype_wins_over_the_files():
    release, name, case = next(c for c in CASES if c[0] == "2.1.6" and c[1] == "emb_lstm_seq_f64")
    model = load(release, case, "model.save", dtype="float32")
    assert str(model.dtype) == "float32"
    arrays = np.load(paths(release, case)["data_npz"])
    assert relative_error(model.predict(arrays["X"]), arrays["Y"]) <= TOLERANCE["float32"]


def test_json_alone_builds_the_model_and_its_load_weights_reads_the_1x_2x_layout():
    release, name, case = next(c for c in CASES if c[0] == "1.2.2" and c[1] == "gpu_emb_lstm_seq_f64")
    p = paths(release, case)
    model = r.model_from_json(open(p["config_json"]).read())
    assert model.keras_version == "1.2.2"
    model.load_weights(p["weights_h5"])
    assert str(model.dtype) == "float64"
    arrays = np.load(p["data_npz"])
    assert relative_error(model.predict(arrays["X"]), arrays["Y"]) <= TOLERANCE["float64"]


def test_every_manifest_layout_is_what_the_reader_expects():
    """The fixtures hold the layouts the reader's docstrings describe (1.2.2 per gate and
    'gpu' fused; 2.1.6 nested kernel/recurrent_kernel/bias; str or bytes attributes)."""
    layouts = {name: case["weights_layout"]["datasets"] for release, name, case in CASES if release == "1.2.2"}
    assert "lstm_1/lstm_1_W_i" in layouts["emb_lstm_seq_f64"] and "lstm_1/lstm_1_W" in layouts["gpu_emb_lstm_seq_f64"]
    layouts = {name: case["weights_layout"]["datasets"] for release, name, case in CASES if release == "2.1.6"}
    assert "lstm_1/lstm_1/kernel" in layouts["emb_lstm_seq_f64"]
    assert layouts["reset_after_plain_gru_last_f32"]["gru_1/gru_1/bias"] == "float32[2,15]"
    assert sorted(glob.glob(os.path.join(FIXTURES, "2.1.6", "*.model.h5")))


# Keras 1.x files do not state their backend; where the numbers depend on it (a convolution:
# Theano flips the kernel), the caller names it. These files were written on Theano.
CONV_1X = [c for c in CASES if c[0].startswith("1.") and c[1].startswith("conv_")]


@pytest.mark.parametrize("release,name,case", CONV_1X, ids=[f"{r_}/{n}" for r_, n, _ in CONV_1X])
def test_a_1x_convolution_computes_under_the_named_backend(release, name, case):
    model = load(release, case, "model.save", keras_backend="theano")
    assert model.keras_backend == "theano" and "backend theano named by the caller" in model.keras_release
    other = load(release, case, "model.save", keras_backend="tensorflow")
    arrays = np.load(paths(release, case)["data_npz"])
    for xs, ys in groups(case):
        for Y, Z, y_key in zip(predict(model, arrays, xs), predict(other, arrays, xs), ys):
            expected = arrays[y_key].astype(model.dtype)
            assert relative_error(Y, expected) <= TOLERANCE[case["floatX"]], (name, y_key)
            assert relative_error(Z, expected) > 1e-3  # the other backend's rule is told apart


def test_a_named_backend_the_file_contradicts_is_refused():
    release, name, case = next(c for c in CASES if c[0] == "2.1.6" and c[1] == "emb_lstm_seq_f64")
    with pytest.raises(KerasFileError, match="not written on tensorflow: it states backend 'theano'"):
        load(release, case, "model.save", keras_backend="tensorflow")
    with pytest.raises(KerasFileError, match="keras_backend='mxnet': accepted: theano, tensorflow, cntk"):
        load(release, case, "model.save", keras_backend="mxnet")
    zero = os.path.join(FIXTURES, "0.3.2", "emb_lstm_seq_f64")
    with pytest.raises(KerasFileError, match="Keras 0.x ran on Theano only"):
        r.load_model(zero + ".json", zero + ".h5", keras_backend="theano")
