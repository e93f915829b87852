"""Files written by Keras releases 0.1.3–0.3.3 (tests/fixtures/keras_releases, made by the
releases themselves on Theano with the scripts beside them) load through the public API,
with no release named, and reproduce that release's `predict`: 1e-9 relative in float64,
2e-5 in float32, compared in the model's dtype (Keras 0.3 returns float64 arrays for a
float32 model, their values exactly float32). A file whose numbers the reference cannot
reproduce is refused with one sentence, never computed under another release's rules."""
import glob
import json
import os

import numpy as np
import pytest

import reference as r
from reference.keras_files import KerasFileError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "keras_releases")
TOLERANCE = {"float64": 1e-9, "float32": 2e-5}
# the cases whose numbers cannot be reproduced, by name prefix, and what their refusal says:
# a stateful layer's numbers depend on the call history; 0.1.x did not save JZS1/JZS2's
# random projection P (input size != output size), so even Keras's reload computes others
REFUSED = {"stateful_": "stateful=True is not supported",
           "plain_jzs1_diff": "did not save JZS1's fixed projection P.*values are lost",
           "plain_jzs2_diff": "did not save JZS2's fixed projection P.*values are lost",
           "emb_jzs1_seq": "did not save JZS1's fixed projection P.*values are lost"}


def release_cases(pattern="0.*"):
    """(release, case name, case) of every fixture a release matching `pattern` wrote."""
    out = []
    for manifest in sorted(glob.glob(os.path.join(FIXTURES, pattern, "MANIFEST.json"))):
        release = os.path.basename(os.path.dirname(manifest))
        for name, case in json.load(open(manifest))["cases"].items():
            if "files" in case:  # the others the release could not build (recorded in the manifest)
                out.append((release, name, case))
    return out


CASES = release_cases()


def _paths(release, case):
    folder = os.path.join(FIXTURES, release)
    files = case["files"]
    return (os.path.join(folder, files["config_json"]), os.path.join(folder, files["weights_h5"]),
            os.path.join(folder, files["data_npz"]))


def expected_refusal(name):
    """The sentence a case must be refused with, or None if it must load."""
    return next((text for prefix, text in REFUSED.items() if name.startswith(prefix)), None)


def relative_error(Y, expected):
    return float(np.max(np.abs(Y - expected)) / max(np.max(np.abs(expected)), 1e-30))


def test_every_release_wrote_fixtures():
    assert {release for release, _, _ in CASES} == {"0.1.3", "0.3.0", "0.3.1", "0.3.2", "0.3.3"}
    assert len(CASES) >= 180


@pytest.mark.parametrize("release,name,case", CASES, ids=[f"{r_}/{n}" for r_, n, _ in CASES])
def test_load_model_reproduces_the_release_that_wrote_the_file(release, name, case):
    config, weights, data = _paths(release, case)
    refusal = expected_refusal(name)
    if refusal is not None:
        with pytest.raises(KerasFileError, match=refusal):
            r.load_model(config, weights)
        return
    model = r.load_model(config, weights)
    assert _in_span(release, model.keras_version), model.keras_release
    assert str(model.dtype) == case["floatX"]
    arrays = np.load(data)
    # what the release computes from the files: its own reload, or, where it cannot reload
    # them (0.1.3's Masking), the model that wrote them
    outputs = case["output_keys"] if case["keras_reload"]["ok"] else case["output_keys_original"]
    for x_key, y_key in zip(case["input_keys"], outputs):
        Y = model.predict(arrays[x_key])
        expected = arrays[y_key].astype(model.dtype)  # compare in the model's dtype
        assert Y.dtype == model.dtype and Y.shape == expected.shape
        error = relative_error(Y, expected)
        assert error <= TOLERANCE[case["floatX"]], (name, y_key, error)


def _in_span(release, span):
    """Whether `release` is the model's release or within its range ("0.3.1–0.3.3")."""
    from reference.keras_files.releases import RELEASES

    first, _, last = span.partition("–")
    return RELEASES.index(first) <= RELEASES.index(release) <= RELEASES.index(last or first)


DROPOUT_CASES = [c for c in CASES if "Dropout" in c[2]["layers"]]


@pytest.mark.parametrize("release,name,case", DROPOUT_CASES, ids=[f"{r_}/{n}" for r_, n, _ in DROPOUT_CASES])
def test_a_0_3_dropout_is_read_as_the_identity_and_the_files_tell_it_from_0_2_0s(release, name, case):
    """0.3.x's Dropout is inverted (scaled in training only): read as Dropout(p=0). These
    files tell that from 0.2.0's rule, a (1 - p) scale at prediction, by far more than the
    tolerance."""
    config, weights, data = _paths(release, case)
    model = r.load_model(config, weights)
    dropouts = [layer for layer in model.layers if isinstance(layer, r.Dropout)]
    written = [layer["p"] for layer in json.load(open(config))["layers"] if layer["name"] == "Dropout"]
    assert [d.p for d in dropouts] == [0.0] * len(written) and all(p > 0 for p in written)
    assert any("Dropout(p=" in note and "is the identity at inference" in note for note in model.keras_notes)
    for layer, p in zip(dropouts, written):
        layer.p = p  # 0.2.0's rule
    arrays = np.load(data)
    assert relative_error(model.predict(arrays["X"]), arrays["Y"].astype(model.dtype)) > 1e-3
