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

from ..reference.helpers import record
from ..reference.keras_files.test_keras12_fixtures import CASES, TOLERANCE, groups, paths, pending, relative_error


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def onnx_predict(path, Xs):
    """Every output of the ONNX file (in the model's output order) for the inputs Xs (in the
    model's input order)."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = session.get_inputs()
    assert len(feeds) == len(Xs)
    return session.run(None, {f.name: X.astype(np.int64) if "int" in f.type else X for f, X in zip(feeds, Xs)})


def convert_and_compare(release, name, case, tmp_path, form):
    p = paths(release, case)
    arrays = np.load(p["data_npz"])
    target = tmp_path / "m.onnx"
    files = [p["model_h5"]] if form == "model.save" else [p["config_json"], p["weights_h5"]]
    code, out, err = call("convert", *files, "-o", target)
    if pending((release, name, case)) is not None:
        assert code == 1 and err.startswith("rnn2onnx: error: ") and len(err.strip().splitlines()) == 1, err
        assert not os.listdir(tmp_path)
        return
    assert code == 0, err
    assert f"\nKeras {release.removeprefix('tf-')}" in out  # the release line (tf-2.15.1/: tf_keras 2.15.1)
    for xs, ys in groups(case):
        outputs = onnx_predict(target, [arrays[k] for k in xs])
        assert len(outputs) == len(ys)
        for Y, y_key in zip(outputs, ys):
            expected = arrays[y_key].astype(case["floatX"])
            assert Y.dtype == expected.dtype
            error = record(f"convert, Keras {release} fixtures, {case['floatX']}", relative_error(Y, expected))
            assert error <= TOLERANCE[case["floatX"]], (name, y_key, error)


# one case per layout and model kind in the quick run; every file form of every case under -m slow
QUICK = {("1.2.2", "gpu_emb_lstm_seq_f32"), ("1.2.2", "mem_emb_gru_last_f64"), ("1.2.2", "bidir_emb_lstm_seq_f64"),
         ("1.2.2", "back_plain_lstm_seq_f32"), ("2.1.6", "emb_lstm_gru_stack_f64"),
         ("2.1.6", "reset_after_emb_gru_seq_f32"), ("2.1.6", "bidir_emb_gru_last_f32"),
         ("2.1.6", "cudnn_lstm_seq_f64"), ("2.1.6", "fn_two_outputs_f64"), ("2.3.1", "emb_lstm_seq_f32"),
         ("tf-2.15.1", "bidir_emb_lstm_seq_concat_f64"), ("tf-2.15.1", "fn_return_state_lstm_seq_f64"),
         ("1.2.2", "bn_act_noise_emb_lstm_f64"), ("2.3.1", "conv_pool_lstm_dense_f32"),
         ("2.3.1", "globalavg_emb_lstm_dense_f64"), ("tf-2.15.1", "conv_same_emb_gru_seq_f64"),
         ("2.3.1", "fn_encoder_decoder_lstm_f32")}
QUICK_CASES = [c for c in CASES if (c[0], c[1]) in QUICK]
OTHER_CASES = [c for c in CASES if (c[0], c[1]) not in QUICK]


@pytest.mark.parametrize("release,name,case", QUICK_CASES, ids=[f"{r_}/{n}" for r_, n, _ in QUICK_CASES])
def test_convert_a_model_save_file_reproduces_the_release(release, name, case, tmp_path):
    convert_and_compare(release, name, case, tmp_path, "model.save")


@pytest.mark.slow
@pytest.mark.parametrize("release,name,case", OTHER_CASES, ids=[f"{r_}/{n}" for r_, n, _ in OTHER_CASES])
def test_convert_every_model_save_file_reproduces_the_release(release, name, case, tmp_path):
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


def test_validate_reads_a_model_save_file(tmp_path):
    release, name, case = _case("2.1.6", "plain_gru_seq_f32")
    model_h5 = paths(release, case)["model_h5"]
    code, _, err = call("convert", model_h5, "-o", tmp_path / "m.onnx", "--no-validate")
    assert code == 0, err
    code, out, err = call("validate", tmp_path / "m.onnx", model_h5, "--n", "1")
    assert code == 0 and "PASS" in out, err
    code, out, err = call("validate", tmp_path / "m.onnx", paths(release, case)["config_json"])
    assert code == 1 and "validate needs the WEIGHTS file" in err, err


def test_the_quick_cases_exist():
    assert {(r_, n) for r_, n, _ in QUICK_CASES} == QUICK


def test_a_1x_convolution_converts_under_the_named_backend(tmp_path):
    release, name, case = _case("1.2.2", "conv_pool_lstm_dense_f64")
    model_h5 = paths(release, case)["model_h5"]
    code, _, err = call("convert", model_h5, "-o", tmp_path / "m.onnx")
    assert code == 1 and "--keras-backend" in err and not os.listdir(tmp_path), err
    code, out, err = call("convert", model_h5, "-o", tmp_path / "m.onnx", "--keras-backend", "theano")
    assert code == 0 and "backend theano named by the caller" in out, err
