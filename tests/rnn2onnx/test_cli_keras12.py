"""`rnn2onnx convert` and `inspect`, run in process on files written by Keras 1.2.2 and 2.1.6
(tests/fixtures/keras_releases): one `model.save` file, or `to_json` + `save_weights`, with
no release named. The ONNX file computes that release's `predict` in onnxruntime (1e-9
relative in float64, 2e-5 in float32, against the arrays Keras computed; the command
validates the file against the reference first); a file the reference refuses fails in one
sentence and nothing is written. `inspect` names the release and the backend."""
import io
import os

import numpy as np
import onnxruntime
import pytest

from rnn2onnx import cli

from ..reference.keras_files.test_keras12_fixtures import CASES, TOLERANCE, paths, pending, relative_error


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def onnx_predict(path, X):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    X = X.astype(np.int64) if "int" in feed.type else X
    return session.run(None, {feed.name: X})[0]


def convert_and_compare(release, name, case, tmp_path, form):
    p = paths(release, case)
    target = tmp_path / "m.onnx"
    files = [p["model_h5"]] if form == "model.save" else [p["config_json"], p["weights_h5"]]
    code, out, err = call("convert", *files, "-o", target)
    if pending((release, name, case)) is not None:
        assert code == 1 and err.startswith("rnn2onnx: error: ") and len(err.strip().splitlines()) == 1, err
        assert not os.listdir(tmp_path)
        return
    assert code == 0, err
    assert f"\nKeras {release}" in out  # the release line
    arrays = np.load(p["data_npz"])
    for x_key, y_key in zip(case["input_keys"], case["output_keys"]):
        Y = onnx_predict(target, arrays[x_key])
        expected = arrays[y_key].astype(case["floatX"])
        assert Y.dtype == expected.dtype
        assert relative_error(Y, expected) <= TOLERANCE[case["floatX"]], (name, y_key)


@pytest.mark.parametrize("release,name,case", CASES, ids=[f"{r_}/{n}" for r_, n, _ in CASES])
def test_convert_a_model_save_file_reproduces_the_release(release, name, case, tmp_path):
    convert_and_compare(release, name, case, tmp_path, "model.save")


@pytest.mark.slow
@pytest.mark.parametrize("release,name,case", CASES, ids=[f"{r_}/{n}" for r_, n, _ in CASES])
def test_convert_a_config_and_its_weights_reproduces_the_release(release, name, case, tmp_path):
    convert_and_compare(release, name, case, tmp_path, "to_json+save_weights")


def test_convert_a_config_and_its_weights_file(tmp_path):
    release, name, case = next(c for c in CASES if c[0] == "1.2.2" and c[1] == "back_emb_gru_seq_f64")
    convert_and_compare(release, name, case, tmp_path, "to_json+save_weights")


def _case(release, name):
    return next(c for c in CASES if c[0] == release and c[1] == name)


def test_inspect_names_the_release_and_the_backend():
    release, name, case = _case("2.1.6", "emb_lstm_seq_f64")
    code, out, err = call("inspect", paths(release, case)["model_h5"])
    assert code == 0, err
    assert out.splitlines()[0] == "Keras 2.1.6 (theano): file attribute keras_version"
    assert "keys without effect at inference: " in out and "implementation" in out
    release, name, case = _case("1.2.2", "emb_lstm_seq_f64")
    code, out, err = call("inspect", paths(release, case)["model_h5"])
    assert code == 0, err
    assert out.splitlines()[0] == ("Keras 1.2.2: file attribute keras_version; Keras 1.x files do not state "
                                   "their backend")


def test_a_config_without_weights_and_a_refused_file_write_nothing(tmp_path):
    release, name, case = _case("1.2.2", "emb_lstm_seq_f64")
    p = paths(release, case)
    code, out, err = call("convert", p["config_json"], "-o", tmp_path / "m.onnx")
    assert code == 1 and "needs the WEIGHTS file" in err and len(err.strip().splitlines()) == 1, err
    gpu_weights = paths(*_case("1.2.2", "gpu_emb_lstm_seq_f64")[::2])["weights_h5"]
    code, out, err = call("convert", p["config_json"], gpu_weights, "-o", tmp_path / "m.onnx")
    assert code == 1 and "per-gate (consume_less cpu/mem) layout" in err, err
    code, out, err = call("convert", p["model_h5"], p["weights_h5"], "-o", tmp_path / "m.onnx")
    assert code == 1 and "holds its config and its weights" in err, err
    assert not os.listdir(tmp_path)


def test_a_release_the_file_contradicts_is_refused_and_later_releases_are_offered(tmp_path, capsys):
    release, name, case = _case("2.1.6", "emb_gru_last_f32")
    code, out, err = call("convert", paths(release, case)["model_h5"], "-o", tmp_path / "m.onnx",
                          "--keras-version", "2.3.1")
    assert code == 1 and "not written by Keras 2.3.1" in err, err
    code, _, _ = call("inspect", paths(release, case)["model_h5"], "--keras-version", "3.0.0")
    usage = capsys.readouterr().err
    assert code == 2 and "invalid choice: '3.0.0'" in usage and "2.4.0" in usage
