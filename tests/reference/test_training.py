"""compile / fit / train_on_batch / evaluate / predict_classes: Keras 0.2.0 behaviour,
error cases, Ctrl-C, reproducibility and the progress output."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from reference import (SGD, Activation, Callback, ConfigError, Dense, Dropout, Embedding, History, InputError,
                       NonFiniteLossError, Sequential, SimpleRNN, TimeDistributedDense, training)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def regression_model(dtype="float64", seed=0, optimizer=None, dropout=0.0):
    model = Sequential(dtype=dtype, seed=seed)
    model.add(SimpleRNN(4, input_dim=2, activation="tanh"))
    if dropout:
        model.add(Dropout(dropout))
    model.add(Dense(1))
    model.compile(optimizer if optimizer is not None else SGD(lr=0.05), "mse")
    return model


def regression_data(n=12, T=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, 2))
    return X, X[:, :, 0].sum(axis=1, keepdims=True) * 0.3


def binary_model(seed=0, lr=0.0):
    model = Sequential(dtype="float64", seed=seed)
    model.add(Dense(1, input_dim=3))
    model.add(Activation("sigmoid"))
    model.compile(SGD(lr=lr), "binary_crossentropy", class_mode="binary")
    return model


def bce(y, p):
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


# -- compile ------------------------------------------------------------------------------

def test_compile_keeps_optimizer_loss_name_and_class_mode():
    model = regression_model()
    model.compile("rmsprop", "mse", class_mode="binary")
    assert type(model.optimizer).__name__ == "RMSprop"
    assert model.loss == "mean_squared_error"
    assert model.class_mode == "binary"
    assert model.masked_loss == "keras"
    assert model.optimizer.get_config()["name"] == "RMSprop"


def test_compile_rejects_unknown_names_listing_the_accepted_ones():
    model = regression_model()
    with pytest.raises(ConfigError, match="unknown loss 'crossentropy'.*binary_crossentropy"):
        model.compile("sgd", "crossentropy")
    with pytest.raises(ConfigError, match="unknown optimizer 'nadam'.*Adadelta"):
        model.compile("nadam", "mse")
    with pytest.raises(ConfigError, match="class_mode"):
        model.compile("sgd", "mse", class_mode="sparse")
    with pytest.raises(ConfigError, match="masked_loss"):
        model.compile("sgd", "mse", masked_loss="ignore")


def test_fit_needs_compile():
    model = Sequential(dtype="float64", seed=0)
    model.add(Dense(1, input_dim=3))
    with pytest.raises(ConfigError, match="compile"):
        model.fit(np.zeros((4, 3)), np.zeros(4), verbose=0)


# -- data checks --------------------------------------------------------------------------

def test_fit_rejects_mismatched_lengths():
    model = regression_model()
    X, y = regression_data()
    with pytest.raises(InputError, match="X has 12 samples but y has 11"):
        model.fit(X, y[:11], nb_epoch=1, verbose=0)


def test_fit_rejects_wrong_target_shapes():
    model = regression_model()
    X, _ = regression_data()
    with pytest.raises(InputError, match=r"shape \(n, 1\).*\(12, 3\)"):
        model.fit(X, np.zeros((12, 3)), nb_epoch=1, verbose=0)
    with pytest.raises(InputError, match="targets must have shape"):
        model.fit(X, np.zeros((12, 5, 1)), nb_epoch=1, verbose=0)
    seq = Sequential(dtype="float64", seed=0)
    seq.add(SimpleRNN(3, input_dim=2, return_sequences=True))
    seq.add(TimeDistributedDense(2))
    seq.compile("sgd", "mse")
    with pytest.raises(InputError, match="one target vector per timestep"):
        seq.fit(X, np.zeros((12, 2)), nb_epoch=1, verbose=0)
    with pytest.raises(InputError, match="NaN or inf"):
        model.fit(X, np.full((12, 1), np.nan), nb_epoch=1, verbose=0)


def test_fit_rejects_bad_weights_and_validation_arguments():
    model = regression_model()
    X, y = regression_data()
    with pytest.raises(InputError, match="sample_weight"):
        model.fit(X, y, nb_epoch=1, verbose=0, sample_weight=np.ones(5))
    with pytest.raises(InputError, match="validation_split"):
        model.fit(X, y, nb_epoch=1, verbose=0, validation_split=1.5)
    with pytest.raises(InputError, match="validation_data"):
        model.fit(X, y, nb_epoch=1, verbose=0, validation_data=(X,))
    with pytest.raises(InputError, match="X has 12 samples but y has 3"):
        model.fit(X, y, nb_epoch=1, verbose=0, validation_data=(X, y[:3]))


# -- non-finite losses and Ctrl-C ----------------------------------------------------------

def _sequential_reference(X, y, batches, seed=0, dtype="float64", optimizer=None):
    """The weights after train_on_batch on the given (start, end) slices, in order."""
    ref = regression_model(dtype=dtype, seed=seed, optimizer=optimizer)
    for start, end in batches:
        ref.train_on_batch(X[start:end], y[start:end])
    return ref.get_weights()


def test_non_finite_loss_stops_naming_epoch_and_batch_and_keeps_last_finite_weights():
    X, y = regression_data(n=16)
    y = y.astype(np.float32)
    y[9] = 1e30  # (prediction - 1e30)**2 overflows float32: the loss of batch 3 (samples 8-11) is inf
    model = regression_model(dtype="float32")
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(inf\) at epoch 1/3, batch 3/4") as err:
        model.fit(X, y, batch_size=4, nb_epoch=3, shuffle=False, verbose=0)
    assert (err.value.epoch, err.value.batch) == (0, 2)
    assert isinstance(err.value.history, History)
    expected = _sequential_reference(X, y, [(0, 4), (4, 8)], dtype="float32")
    for w, e in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(w, e)
        assert np.all(np.isfinite(w))


def test_an_update_producing_non_finite_weights_is_not_applied():
    class Exploding(SGD):
        def _step(self, p, g, state, iterations):
            new_p, state = super()._step(p, g, state, iterations)
            return (new_p * np.inf if iterations == 1 else new_p), state

    X, y = regression_data(n=8)
    model = regression_model(optimizer=Exploding(lr=0.05))
    with pytest.raises(NonFiniteLossError, match="epoch 1/2, batch 2/2.*NaN/inf weights"):
        model.fit(X, y, batch_size=4, nb_epoch=2, shuffle=False, verbose=0)
    expected = _sequential_reference(X, y, [(0, 4)])
    for w, e in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(w, e)
    assert model.optimizer.iterations == 1


class InterruptAt(Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def test_ctrl_c_between_batches_keeps_the_last_finished_batch(capsys):
    X, y = regression_data(n=12)
    model = regression_model()
    history = model.fit(X, y, batch_size=4, nb_epoch=5, shuffle=False, verbose=0, callbacks=[InterruptAt(1, 2)])
    assert "interrupted (Ctrl-C) in epoch 2/5 at batch 3/3" in capsys.readouterr().out
    assert history.interrupted == (1, 2)
    assert history.epoch == [0] and len(history.history["loss"]) == 1
    expected = _sequential_reference(X, y, [(0, 4), (4, 8), (8, 12), (0, 4), (4, 8)])
    for w, e in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(w, e)


def test_ctrl_c_in_the_middle_of_a_batch_keeps_the_last_finished_batch(capsys):
    X, y = regression_data(n=12)
    model = regression_model()
    backward, calls = model.backward, []

    def interrupted_backward(dY):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return backward(dY)

    model.backward = interrupted_backward
    history = model.fit(X, y, batch_size=4, nb_epoch=2, shuffle=False, verbose=1)
    assert "keeps the weights of the last finished batch" in capsys.readouterr().out
    assert history.interrupted == (0, 2) and history.epoch == []
    expected = _sequential_reference(X, y, [(0, 4), (4, 8)])
    for w, e in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(w, e)
    assert model.optimizer.iterations == 2


def test_sigint_during_the_weight_swap_is_held_until_it_is_done():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in an interactive run
    try:
        done = []
        with pytest.raises(KeyboardInterrupt):
            with training._hold_interrupt():
                os.kill(os.getpid(), signal.SIGINT)
                done.append("finished")
        assert done == ["finished"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_real_sigint_stops_fit_cleanly():
    code = (
        "import signal, sys, numpy as np\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from reference import Sequential, SimpleRNN, Dense, Callback\n"
        "class Ready(Callback):\n"
        "    def on_epoch_end(self, epoch, logs=None):\n"
        "        if epoch == 0: print('ready', flush=True)\n"
        "m = Sequential(seed=0); m.add(SimpleRNN(8, input_dim=3)); m.add(Dense(1)); m.compile('sgd', 'mse')\n"
        "X = np.random.default_rng(0).normal(size=(64, 10, 3))\n"
        "h = m.fit(X, X[:, 0, :1], batch_size=8, nb_epoch=100000, verbose=0, callbacks=[Ready()])\n"
        "print('returned', h.interrupted is not None, len(h.epoch) > 0,\n"
        "      all(np.isfinite(w).all() for w in m.get_weights()), flush=True)\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Training interrupted (Ctrl-C)" in out
    assert "returned True True True" in out


# -- what fit computes --------------------------------------------------------------------

def test_validation_split_holds_out_the_last_fraction():
    X, y = regression_data(n=12)
    model = regression_model(optimizer=SGD(lr=0.0))  # lr 0: the weights stay put
    history = model.fit(X, y, batch_size=5, nb_epoch=2, validation_split=0.25, shuffle=True, verbose=0)
    P = model.predict(X)
    assert history.history["val_loss"] == pytest.approx([np.mean((P[9:] - y[9:]) ** 2)] * 2, rel=1e-12)
    assert history.history["loss"] == pytest.approx([np.mean((P[:9] - y[:9]) ** 2)] * 2, rel=1e-12)
    assert history.epoch == [0, 1]


def test_validation_data_with_sample_weights():
    X, y = regression_data(n=12)
    model = regression_model(optimizer=SGD(lr=0.0))
    w = np.arange(1.0, 5.0)
    history = model.fit(X, y, nb_epoch=1, verbose=0, validation_data=(X[:4], y[:4], w))
    P = model.predict(X[:4])
    expected = np.sum(w * ((P - y[:4]) ** 2)[:, 0]) / w.sum()
    assert history.history["val_loss"] == pytest.approx([expected], rel=1e-12)


def test_show_accuracy_history_and_evaluate():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = (X[:, :1] > 0).astype(float)
    model = binary_model()
    history = model.fit(X, y, batch_size=7, nb_epoch=2, show_accuracy=True, validation_split=0.2, verbose=0)
    assert set(history.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert all(len(v) == 2 for v in history.history.values())
    p = model.predict(X)
    acc = np.mean((p[16:] >= 0.5) == y[16:])
    assert history.history["val_acc"] == pytest.approx([acc, acc], abs=1e-12)
    loss, accuracy = model.evaluate(X, y, batch_size=6, show_accuracy=True, verbose=0)
    assert loss == pytest.approx(np.mean(bce(y, p)), rel=1e-12)
    assert accuracy == pytest.approx(np.mean((p >= 0.5) == y), abs=1e-12)
    assert model.test_on_batch(X, y, accuracy=True) == pytest.approx([loss, accuracy], rel=1e-12)


def test_class_weight_and_sample_weight():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 3))
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 1], dtype=float)
    model = binary_model()
    history = model.fit(X, y, batch_size=10, nb_epoch=1, class_weight={0: 3.0, 1: 0.5}, verbose=0)
    s = bce(y, model.predict(X)[:, 0])
    w = np.where(y == 1, 0.5, 3.0)
    assert history.history["loss"] == pytest.approx([np.sum(w * s) / w.sum()], rel=1e-12)
    sw = np.linspace(0.1, 2.0, 10)
    history = model.fit(X, y, batch_size=10, nb_epoch=1, sample_weight=sw, class_weight={0: 3.0, 1: 0.5}, verbose=0)
    assert history.history["loss"] == pytest.approx([np.sum(sw * s) / sw.sum()], rel=1e-12)  # sample_weight wins
    with pytest.raises(InputError, match=r"no weight for class\(es\) \[1\]"):
        model.fit(X, y, nb_epoch=1, class_weight={0: 1.0}, verbose=0)


def test_train_on_batch_returns_the_loss_before_the_update():
    X, y = regression_data()
    model = regression_model()
    before = model.test_on_batch(X, y)
    assert model.train_on_batch(X, y) == pytest.approx(before, rel=1e-12)
    assert model.test_on_batch(X, y) < before
    loss, acc = model.train_on_batch(X, y, accuracy=True)
    assert np.isfinite(loss) and 0.0 <= acc <= 1.0


def _masked_sequence_model(masked_loss):
    model = Sequential(dtype="float64", seed=4)
    model.add(Embedding(6, 3, mask_zero=True))
    model.add(SimpleRNN(4, return_sequences=True, activation="tanh"))
    model.add(TimeDistributedDense(2))
    model.compile(SGD(lr=0.1), "mse", masked_loss=masked_loss)
    return model


def test_masked_loss_rules_through_a_model():
    X = np.array([[0, 0, 3, 1], [0, 2, 4, 5], [1, 2, 3, 4]])  # left-padded
    y = np.random.default_rng(2).normal(size=(3, 4, 2))
    mask = (X != 0).astype(float)
    per_entry = None
    for rule in ("keras", "corrected"):
        model = _masked_sequence_model(rule)
        per_entry = np.mean((model.predict(X) - y) ** 2, axis=-1)
        numerator = per_entry.sum() if rule == "keras" else (per_entry * mask).sum()
        assert model.test_on_batch(X, y) == pytest.approx(numerator / mask.sum(), rel=1e-12)
        assert model.train_on_batch(X, y) == pytest.approx(numerator / mask.sum(), rel=1e-12)
    assert per_entry[0, 0] > 0  # the padded entries do count under the keras rule


def test_per_timestep_sample_weights_for_sequence_outputs():
    X = np.array([[0, 0, 3, 1], [0, 2, 4, 5], [1, 2, 3, 4]])
    y = np.random.default_rng(3).normal(size=(3, 4, 2))
    model = _masked_sequence_model("keras")
    per_entry = np.mean((model.predict(X) - y) ** 2, axis=-1)
    mask = (X != 0).astype(float)
    sw = np.array([1.0, 2.0, 0.5])  # per sample: applies to every timestep
    expected = (sw[:, None] * per_entry).sum() / (sw[:, None] * mask).sum()
    assert model.evaluate(X, y, sample_weight=sw, verbose=0) == pytest.approx(expected, rel=1e-12)
    swt = np.random.default_rng(4).uniform(0.5, 1.5, size=(3, 4))
    expected = (swt * per_entry).sum() / (swt * mask).sum()
    assert model.evaluate(X, y, sample_weight=swt, verbose=0) == pytest.approx(expected, rel=1e-12)


def test_dropout_is_active_in_training_only():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(8, 5, 2))
    y = rng.normal(size=(8, 1))
    model = regression_model(optimizer=SGD(lr=0.0), dropout=0.5)
    train_losses = {model.train_on_batch(X, y) for _ in range(5)}
    assert len(train_losses) > 1  # a fresh Bernoulli mask per step
    evaluated = [model.evaluate(X, y, verbose=0) for _ in range(3)]
    assert evaluated[0] == evaluated[1] == evaluated[2]
    assert evaluated[0] == pytest.approx(np.mean((model.predict(X) - y) ** 2), rel=1e-12)  # (1-p) scaling


def test_same_seed_same_weights_after_fit():
    X, y = regression_data(n=30)

    def trained(seed):
        model = regression_model(seed=seed, dropout=0.3)
        model.fit(X, y, batch_size=7, nb_epoch=3, shuffle=True, verbose=0, validation_split=0.1)
        return model.get_weights()

    a, b, c = trained(11), trained(11), trained(12)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a, c))


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "adagrad", "adadelta", "adam"])
def test_float32_models_train_in_float32(optimizer):
    X, y = regression_data(n=8)
    model = regression_model(dtype="float32", optimizer=optimizer)
    history = model.fit(X, y, batch_size=4, nb_epoch=2, verbose=0)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert all(s.dtype == np.float32 for slots in model.optimizer.slots.values() for s in slots)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_shuffle_changes_the_batch_order_and_batch_mode_works():
    X, y = regression_data(n=12)
    plain = regression_model()
    plain.fit(X, y, batch_size=4, nb_epoch=1, shuffle=False, verbose=0)
    shuffled = regression_model()
    shuffled.fit(X, y, batch_size=4, nb_epoch=1, shuffle=True, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(plain.get_weights(), shuffled.get_weights()))
    regression_model().fit(X, y, batch_size=5, nb_epoch=2, shuffle="batch", verbose=0)


def test_stop_training_ends_fit_after_the_epoch():
    class StopAfterFirst(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    X, y = regression_data()
    history = regression_model().fit(X, y, nb_epoch=10, verbose=0, callbacks=[StopAfterFirst()])
    assert history.epoch == [0]


def test_predict_classes_and_proba():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(9, 3))
    model = binary_model()
    p = model.predict(X)
    np.testing.assert_array_equal(model.predict_classes(X, verbose=0), (p > 0.5).astype(np.int32))
    np.testing.assert_array_equal(model.predict_proba(X, verbose=0), p)
    cat = Sequential(dtype="float64", seed=0)
    cat.add(Dense(4, input_dim=3))
    cat.add(Activation("softmax"))
    cat.compile("sgd", "categorical_crossentropy")
    np.testing.assert_array_equal(cat.predict_classes(X, verbose=0), cat.predict(X).argmax(axis=-1))
    lin = Sequential(dtype="float64", seed=0)
    lin.add(Dense(2, input_dim=3))
    lin.compile("sgd", "mse")
    with pytest.warns(UserWarning, match="invalid probability"):
        lin.predict_proba(X * 100, verbose=0)


# -- progress output ------------------------------------------------------------------------

def test_verbose_levels(capsys, monkeypatch):
    X, y = regression_data(n=12)
    regression_model().fit(X, y, batch_size=4, nb_epoch=2, verbose=0)
    assert capsys.readouterr().out == ""

    regression_model().fit(X, y, batch_size=4, nb_epoch=2, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Train on 9 samples, validate on 3 samples"
    assert len(lines) == 3 and "\r" not in "".join(lines)
    assert lines[1].startswith("Epoch 1/2 - 9/9 - ") and " - loss: " in lines[1] and " - val_loss: " in lines[1]
    assert lines[2].startswith("Epoch 2/2 - 9/9 - ")

    regression_model().fit(X, y, batch_size=4, nb_epoch=2, verbose=1, show_accuracy=True)
    piped = capsys.readouterr().out  # not a terminal: the finished bars only
    assert "ETA: " not in piped and "\r" not in piped
    assert piped.count("\n12/12 [==============================] - ") == 2

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    regression_model().fit(X, y, batch_size=4, nb_epoch=2, verbose=1, show_accuracy=True)
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2\n") == 1 and out.count("Epoch 2/2\n") == 1
    assert "\r 4/12 [" in out and "ETA: " in out               # the live bar after the first batch
    assert "\r12/12 [==============================] - " in out   # the finished bar
    assert " - loss: " in out and " - acc: " in out


def test_history_losses_are_batch_size_weighted_means():
    X, y = regression_data(n=10)

    class Record(Callback):
        def on_train_begin(self, logs=None):
            self.batches = []

        def on_batch_end(self, batch, logs=None):
            self.batches.append((logs["size"], logs["loss"]))

    record = Record()
    history = regression_model().fit(X, y, batch_size=4, nb_epoch=1, verbose=0, callbacks=[record])
    assert [s for s, _ in record.batches] == [4, 4, 2]
    expected = sum(s * v for s, v in record.batches) / 10
    assert history.history["loss"] == pytest.approx([expected], rel=1e-12)


def test_early_stopping_learning_rate_scheduler_and_checkpoint(tmp_path):
    from reference.callbacks import EarlyStopping, LearningRateScheduler, ModelCheckpoint

    X, y = regression_data(n=12)
    model = regression_model(optimizer=SGD(lr=0.5))
    before = [w.copy() for w in model.get_weights()]
    # lr 0 from the scheduler: nothing moves, val_loss never improves, stopping after patience=1
    history = model.fit(X, y, batch_size=4, nb_epoch=20, verbose=0, validation_split=0.25,
                        callbacks=[LearningRateScheduler(lambda epoch: 0.0), EarlyStopping(patience=1)])
    assert history.epoch == [0, 1, 2]
    assert model.optimizer.lr == 0.0
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    path = tmp_path / "weights.{epoch}.h5"
    model.fit(X, y, batch_size=4, nb_epoch=2, verbose=0, callbacks=[ModelCheckpoint(str(path))])
    assert (tmp_path / "weights.0.h5").exists() and (tmp_path / "weights.1.h5").exists()
