"""Keras 0.2.0 training for the reference Sequential: compile, fit, train/test on a batch,
evaluate, predict_classes / predict_proba. `Sequential`'s methods of the same names
call these functions.

One training step is: forward in training mode (Dropout draws its masks from the
model's rng), the batch loss of `reference.losses.weighted_loss` plus the layers'
regularization terms (reference/regularizers.py: 0.2.0 added them to the training
loss) and its gradient, `model.backward`, the optimizer's update of the trainable
weights with each weight's constraint applied to the result, the running statistics
of BatchNormalization from the batch (0.2.0's `updates`, not optimizer params), all
from the pre-step values, and only then the new weights are put in place, at once (a Ctrl-C arriving during that short
assignment is held back until it is done). A batch whose loss or updated weights are
not finite is never applied: fit stops with `NonFiniteLossError`, naming the epoch
and batch, and the model keeps the weights of the last finite step. Ctrl-C
(KeyboardInterrupt) during fit stops it cleanly: a note is printed, the model keeps
the weights of the last finished batch, and the History so far is returned (with
`history.interrupted = (epoch, batch)`).

Reproducibility: shuffling and Dropout use `model.rng`, so the same `seed` gives the
same weights after fit.
"""
import contextlib
import signal
import sys
import threading
import warnings

import numpy as np

from . import callbacks as cbks
from . import losses, optimizers, regularizers
from .errors import ConfigError, InputError
from .validators import non_negative_int, positive_int

CLASS_MODES = ("categorical", "binary")


class TrainingError(RuntimeError):
    """Training cannot go on (the model keeps the weights of the last good step)."""


class NonFiniteLossError(TrainingError, FloatingPointError):
    """A batch gave a NaN/inf loss or NaN/inf weights; the step was not applied.

    Attributes: epoch and batch (0-based, None outside fit), history (fit's History so far)."""

    def __init__(self, message, epoch=None, batch=None, history=None):
        super().__init__(message)
        self.epoch, self.batch, self.history = epoch, batch, history


# -- compile -------------------------------------------------------------------------------

def compile(model, optimizer, loss, class_mode="categorical", theano_mode=None, masked_loss="keras"):
    if class_mode not in CLASS_MODES:
        raise ConfigError(f"class_mode must be one of {', '.join(CLASS_MODES)}, got {class_mode!r}")

    def loss_attributes():
        loss_function = losses.get(loss)
        # loss: the name 0.2.0's get_config stored
        return {"loss_function": loss_function, "loss": loss_function.name, "class_mode": class_mode}

    _compile(model, optimizer, theano_mode, masked_loss, loss_attributes)


def _compile(model, optimizer, theano_mode, masked_loss, loss_attributes):
    """What compile does for a Sequential and a Graph alike once their own arguments are
    checked: `loss_attributes()` resolves the losses into {model attribute: value}; then
    a fresh optimizer. Nothing is set on the model unless everything was accepted."""
    if masked_loss not in losses.MASKED_LOSS_RULES:
        raise ConfigError(
            f"masked_loss must be one of {', '.join(losses.MASKED_LOSS_RULES)}, got {masked_loss!r}"
        )
    attributes = loss_attributes()
    optimizer = optimizers.get(optimizer)
    optimizer.reset()
    model.optimizer = optimizer
    for name, value in attributes.items():
        setattr(model, name, value)
    model.theano_mode = theano_mode
    model.masked_loss = masked_loss
    model.stop_training = False
    model._weight_constraints = {}  # each layer's, read at its first update (_constraints)


def _require_compiled(model, what):
    loss = getattr(model, "loss_functions", None) or getattr(model, "loss_function", None)  # Graph, Sequential
    if getattr(model, "optimizer", None) is None or loss is None:
        raise ConfigError(f"{what} needs a compiled model: call model.compile(optimizer, loss) first")


# -- data ------------------------------------------------------------------------------------

def nb_samples(X):
    """How many samples X holds: an array, a list of arrays (a Merge-first model) or a
    dict of arrays (a Graph)."""
    if isinstance(X, dict):
        return len(next(iter(X.values())))
    return len(X[0]) if isinstance(X, list) else len(X)


def take(X, index):
    """X[index] for an array, or per array of a list or dict (Keras 0.2.0's slice_X)."""
    if isinstance(X, dict):
        return {k: x[index] for k, x in X.items()}
    return [x[index] for x in X] if isinstance(X, list) else X[index]


def standardize_y(y):
    y = np.asarray(y)
    if y.ndim == 1:
        y = y[:, None]
    return y


def _expected_output_shape(model, X):
    """The output's per-sample shape; an unknown time length is X's (None, matching any
    length, when a Merge-first model's branches take several inputs)."""
    shape = model.output_shape
    T = None if isinstance(X, list) else X.shape[1] if X.ndim >= 2 else None
    return tuple(T if s is None else s for s in shape)


def _fits(shape, expected):
    """Whether the per-sample target shape is the output's `expected` (None: any size)."""
    return len(shape) == len(expected) and all(e is None or e == g for e, g in zip(expected, shape))


def check_data(model, X, y, what="fit"):
    """(X, y) checked against the model: same number of samples, y of the output's shape."""
    X = model.check_input(X)
    model._require_built()
    if y is None:
        raise InputError(f"{what}: targets y are missing")
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise InputError(f"{what}: targets must be numeric, got dtype {y.dtype}")
    y = standardize_y(y)
    if nb_samples(X) != len(y):
        raise InputError(f"{what}: X has {nb_samples(X)} samples but y has {len(y)}; they must match")
    expected = _expected_output_shape(model, X)
    if not _fits(y.shape[1:], expected):
        hint = ""
        if len(expected) == 2 and y.ndim == 2:
            hint = " (the model outputs a sequence: give one target vector per timestep)"
        elif len(expected) == 1 and y.ndim == 3:
            hint = " (the model outputs one vector per sample: use return_sequences=False or per-sample targets)"
        elif (expected[-1] or 0) > 1 and y.shape[-1] == 1 and model.loss in ("categorical_crossentropy",):
            hint = " (categorical_crossentropy wants one-hot targets: convert class indices with to_categorical)"
        shown = ", ".join("time" if s is None else str(s) for s in expected)
        raise InputError(
            f"{what}: targets must have shape (n, {shown}) to match the model's output, got {y.shape}{hint}"
        )
    y = y.astype(model.dtype, copy=False)
    if not np.all(np.isfinite(y)):
        raise InputError(f"{what}: targets contain NaN or inf")
    return X, y


def standardize_weights(y, sample_weight=None, class_weight=None, what="fit"):
    """Per-entry weights, shape y.shape[:-1] (0.2.0: sample_weight wins over class_weight).

    sample_weight: shape (n,) or (n, 1); for sequence targets (n, T, k) also (n, T) or
    (n, T, 1) (a per-sample weight applies to all its timesteps).
    class_weight: {class: weight}, the class being argmax(y) (or y itself for one column).
    """
    entry_shape = y.shape[:-1]
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.ndim == len(entry_shape) + 1 and sw.shape[-1] == 1:
            sw = sw[..., 0]
        if sw.ndim == 2 and sw.shape == (entry_shape[0], 1):
            sw = sw[:, 0]
        if sw.shape == entry_shape:
            pass
        elif sw.shape == entry_shape[:1]:
            sw = np.broadcast_to(sw.reshape((-1,) + (1,) * (len(entry_shape) - 1)), entry_shape)
        else:
            raise InputError(
                f"{what}: sample_weight must have shape ({entry_shape[0]},)"
                + (f" or {entry_shape}" if len(entry_shape) > 1 else "")
                + f" for targets of shape {y.shape}, got {np.shape(sample_weight)}"
            )
        if not np.all(np.isfinite(sw)):
            raise InputError(f"{what}: sample_weight contains NaN or inf")
        return np.ascontiguousarray(sw, dtype=y.dtype)
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise ConfigError(f"{what}: class_weight must be a dict {{class: weight}}, got {type(class_weight).__name__}")
        classes = y.argmax(axis=-1) if y.shape[-1] > 1 else y[..., 0]
        out = np.empty(entry_shape, dtype=y.dtype)
        missing = []
        for cls in np.unique(classes):
            key = int(cls) if float(cls).is_integer() else float(cls)
            if key not in class_weight:
                missing.append(key)
                continue
            out[classes == cls] = class_weight[key]
        if missing:
            raise InputError(f"{what}: class_weight has no weight for class(es) {missing}; it has {sorted(class_weight)}")
        return out
    return np.ones(entry_shape, dtype=y.dtype)


def batch_shuffle(index_array, batch_size, rng):
    """Shuffle whole batches (0.2.0's shuffle="batch", for HDF5-backed data)."""
    batch_count = len(index_array) // batch_size
    last = index_array[batch_count * batch_size:]
    blocks = index_array[:batch_count * batch_size].reshape((batch_count, batch_size))
    rng.shuffle(blocks)
    return np.append(blocks.flatten(), last)


def make_batches(size, batch_size):
    nb_batch = int(np.ceil(size / float(batch_size)))
    return [(i * batch_size, min(size, (i + 1) * batch_size)) for i in range(nb_batch)]


# -- one batch ---------------------------------------------------------------------------

def _loss(model, X, y, w, train):
    if isinstance(y, dict):  # a Graph: 0.2.0 summed the outputs' weighted losses
        outs = model.forward(X, train=train)
        eps = losses.epsilon_for(model.dtype)
        total, dY = 0.0, {}
        for name, (Y, mask) in outs.items():
            value, dY[name] = losses.weighted_loss(model.loss_functions[name], y[name], Y, w[name], mask,
                                                   model.masked_loss, eps=eps)
            total += float(value)
        return total, dY, {name: Y for name, (Y, _) in outs.items()}
    Y, mask = model.forward(X, train=train)
    value, dY = losses.weighted_loss(model.loss_function, y, Y, w, mask, model.masked_loss,
                                     eps=losses.epsilon_for(model.dtype))
    return float(value), dY, Y


@contextlib.contextmanager
def _hold_interrupt():
    """Hold SIGINT back while weights are being replaced; re-raise it afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous in (signal.SIG_IGN, None):  # ignored (a background job) or not set from Python
        yield
        return
    received = []
    try:
        signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    except (ValueError, OSError):  # pragma: no cover - no signal support here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):  # Python's default_int_handler raises KeyboardInterrupt
                previous(signal.SIGINT, received[0])
            else:
                raise KeyboardInterrupt


def train_step(model, X, y, w, accuracy=False, where="train_on_batch", epoch=None, batch=None):
    """One update; returns (loss, acc or None). The loss is the one before the update."""
    value, dY, Y = _loss(model, X, y, w, train=True)
    value += regularizers.penalty(model)  # 0.2.0's train loss includes every regularizer
    acc = losses.accuracy(y, Y, model.class_mode) if accuracy else None
    if not np.isfinite(value):
        raise NonFiniteLossError(
            f"non-finite loss ({value}) at {where}; the update was not applied and the model keeps "
            "the weights of the last finite step (try a lower learning rate, clipnorm, or check the data)",
            epoch, batch)
    new_weights, state = _updated_weights(model, dY)
    if not all(np.all(np.isfinite(w_)) for w_ in new_weights):
        raise NonFiniteLossError(
            f"the update at {where} produced NaN/inf weights (loss {value:.6g}; the gradients overflowed); "
            "it was not applied and the model keeps the weights of the last finite step "
            "(try a lower learning rate or clipnorm)", epoch, batch)
    with _hold_interrupt():
        model.set_weights(new_weights)  # the public path, so layers may keep derived caches
        model.optimizer.commit(state)
    return value, acc


def _updated_weights(model, dY):
    """(every weight after the step, the optimizer's new state), as 0.2.0's one
    Theano function with simultaneous updates: the optimizer moves the trainable
    weights (gradients include the weight regularizers) and applies their constraints
    to the result; running statistics (a layer's `state_weights`) take the values the
    layer computed from this batch; everything from the pre-step values."""
    grads = regularizers.add_weight_gradients(model, model.backward(dY))
    weights = model.get_weights()
    roles = regularizers.weight_roles(model)
    trainable = [i for i, (_, _, t) in enumerate(roles) if t]
    new_params, state = model.optimizer.update([weights[i] for i in trainable], [grads[i] for i in trainable])
    new_weights = list(weights)
    for i, p in zip(trainable, new_params):
        layer, name, _ = roles[i]
        constraint = _constraints(model, layer).get(name)
        new_weights[i] = p if constraint is None else np.asarray(constraint(p), dtype=p.dtype)
    for i, (layer, name, t) in enumerate(roles):
        if not t:
            new_weights[i] = layer.state_updates()[name]
    return new_weights, state


def _constraints(model, layer):
    """{weight name: constraint} of `layer`, built once per compile and kept on the model
    (0.2.0 fixed them in the update function compile built); a layer added or built
    after compile gets its entry at its first update."""
    cache = model.__dict__.setdefault("_weight_constraints", {})
    entry = cache.get(id(layer))
    if entry is None or entry[0] is not layer:
        found = layer.weight_constraints() if hasattr(layer, "weight_constraints") else {}
        entry = cache[id(layer)] = (layer, found)
    return entry[1]


def evaluate_batches(model, X, y, w, batch_size=128, accuracy=False, verbose=0):
    """(loss, acc or None): per-batch values averaged with the batch sizes, as 0.2.0."""
    n = nb_samples(X)
    total_loss, total_acc = 0.0, 0.0
    progbar = cbks.Progbar(n) if verbose == 1 else None
    for start, end in make_batches(n, batch_size):
        part = slice(start, end)
        value, _, Y = _loss(model, take(X, part), take(y, part), take(w, part), train=False)
        total_loss += value * (end - start)
        if accuracy:
            total_acc += losses.accuracy(y[start:end], Y, model.class_mode) * (end - start)
        if progbar is not None:
            progbar.update(end)
    return total_loss / n, (total_acc / n if accuracy else None)


# -- the public methods ------------------------------------------------------------------------

def train_on_batch(model, X, y, accuracy=False, class_weight=None, sample_weight=None):
    _require_compiled(model, "train_on_batch")
    X, y = check_data(model, X, y, "train_on_batch")
    w = standardize_weights(y, sample_weight, class_weight, "train_on_batch")
    value, acc = train_step(model, X, y, w, accuracy)
    return [value, acc] if accuracy else value


def test_on_batch(model, X, y, accuracy=False, sample_weight=None):
    _require_compiled(model, "test_on_batch")
    X, y = check_data(model, X, y, "test_on_batch")
    w = standardize_weights(y, sample_weight, None, "test_on_batch")
    value, _, Y = _loss(model, X, y, w, train=False)
    return [value, losses.accuracy(y, Y, model.class_mode)] if accuracy else value


def evaluate(model, X, y, batch_size=128, show_accuracy=False, verbose=1, sample_weight=None):
    _require_compiled(model, "evaluate")
    X, y = check_data(model, X, y, "evaluate")
    w = standardize_weights(y, sample_weight, None, "evaluate")
    value, acc = evaluate_batches(model, X, y, w, positive_int(batch_size, "evaluate", "batch_size"), show_accuracy,
                                  verbose)
    return [value, acc] if show_accuracy else value


def predict_proba(model, X, batch_size=128, verbose=1):
    preds = model.predict(X, batch_size=batch_size, verbose=verbose)
    if preds.min() < 0 or preds.max() > 1:
        warnings.warn("Network returning invalid probability values.")
    return preds


def predict_classes(model, X, batch_size=128, verbose=1):
    """categorical: argmax over the last axis; binary: (p > 0.5) as int32. An uncompiled
    model counts as binary when its output has one column, else categorical."""
    proba = model.predict(X, batch_size=batch_size, verbose=verbose)
    class_mode = getattr(model, "class_mode", None)
    if class_mode is None:
        class_mode = "binary" if proba.shape[-1] == 1 else "categorical"
    if class_mode == "categorical":
        return proba.argmax(axis=-1)
    return (proba > 0.5).astype("int32")


def _validation(model, X, y, validation_split, validation_data, sample_weight):
    """(X, y, sample_weight, (X_val, y_val, w_val) or None) as 0.2.0's fit split them."""
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise InputError(
                "invalid format for validation_data: give a tuple (X_val, y_val) or (X_val, y_val, sample_weight)"
            )
        X_val, y_val = check_data(model, validation_data[0], validation_data[1], "validation_data")
        sw_val = validation_data[2] if len(validation_data) == 3 else None
        return X, y, sample_weight, (X_val, y_val, standardize_weights(y_val, sw_val, None, "validation_data"))
    n = nb_samples(X)
    split_at = _split_point(n, validation_split)
    if split_at is None:
        return X, y, sample_weight, None
    if sample_weight is not None:  # split as given (0.2.0): standardized per part
        sample_weight = np.asarray(sample_weight)
        if len(sample_weight) != n:
            raise InputError(f"fit: sample_weight has {len(sample_weight)} entries for {n} samples")
    (X, y, sample_weight), (X_val, y_val, sw_val) = _split(split_at, X, y, sample_weight)
    w_val = standardize_weights(y_val, sw_val, None, "fit (validation split)")
    return X, y, sample_weight, (X_val, y_val, w_val)


def _split_point(n, validation_split):
    """Where fit's validation_split cuts n samples (the last ones validate), or None."""
    if not validation_split:
        return None
    if not 0 < float(validation_split) < 1:
        raise InputError(f"validation_split must lie in [0, 1), got {validation_split}")
    split_at = int(n * (1 - validation_split))
    if split_at == 0 or split_at == n:
        raise InputError(
            f"validation_split={validation_split} of {n} samples leaves "
            f"{split_at} for training and {n - split_at} for validation; both must be > 0"
        )
    return split_at


def _split(split_at, *parts):
    """([each part's samples before split_at], [those from it]): arrays, lists and dicts
    of them (take), None staying None."""
    head, tail = slice(None, split_at), slice(split_at, None)
    return (tuple(None if p is None else take(p, head) for p in parts),
            tuple(None if p is None else take(p, tail) for p in parts))


def _check_fit_arguments(batch_size, nb_epoch, verbose):
    batch_size = positive_int(batch_size, "fit", "batch_size")
    non_negative_int(nb_epoch, "fit", "nb_epoch")
    if verbose not in (0, 1, 2):
        raise ConfigError(f"verbose must be 0, 1 or 2, got {verbose!r}")
    return batch_size


def fit(model, X, y, batch_size=128, nb_epoch=100, verbose=1, callbacks=(), validation_split=0.,
        validation_data=None, shuffle=True, show_accuracy=False, class_weight=None, sample_weight=None):
    _require_compiled(model, "fit")
    batch_size = _check_fit_arguments(batch_size, nb_epoch, verbose)
    X, y = check_data(model, X, y, "fit")
    X, y, sample_weight, val = _validation(model, X, y, validation_split, validation_data, sample_weight)
    w = standardize_weights(y, sample_weight, class_weight, "fit")
    return _fit_loop(model, X, y, w, val, batch_size, nb_epoch, verbose, callbacks, shuffle, show_accuracy,
                     ["loss", "acc", "val_loss", "val_acc"])


def _fit_loop(model, X, y, w, val, batch_size, nb_epoch, verbose, callbacks, shuffle, show_accuracy, metrics):
    """0.2.0's Model._fit: epochs of (shuffled) batches, each one train_step, validation
    after each epoch; X, y, w are arrays, lists (Merge-first) or dicts (Graph) alike."""
    n = nb_samples(X)
    history = cbks.History()
    callback_list = [history] + ([cbks.BaseLogger()] if verbose else []) + list(callbacks or [])
    callback_list = cbks.CallbackList(callback_list)
    callback_list._set_model(model)
    callback_list._set_params({
        "batch_size": batch_size, "nb_epoch": int(nb_epoch), "nb_sample": n, "verbose": verbose,
        "do_validation": val is not None, "metrics": metrics,
    })
    if val is not None and verbose:
        print(f"Train on {n} samples, validate on {nb_samples(val[0])} samples")
    callback_list.on_train_begin()
    model.stop_training = False
    index = np.arange(n)
    batches = make_batches(n, batch_size)
    epoch = batch = 0
    try:
        for epoch in range(int(nb_epoch)):
            batch = 0
            callback_list.on_epoch_begin(epoch)
            if shuffle == "batch":
                index = batch_shuffle(index, batch_size, model.rng)
            elif shuffle:
                model.rng.shuffle(index)
            for batch, (start, end) in enumerate(batches):
                ids = index[start:end]
                logs = {"batch": batch, "size": len(ids)}
                callback_list.on_batch_begin(batch, logs)
                where = f"epoch {epoch + 1}/{nb_epoch}, batch {batch + 1}/{len(batches)} (positions {start}-{end - 1} in this epoch's sample order)"
                value, acc = train_step(model, take(X, ids), take(y, ids), take(w, ids), show_accuracy, where, epoch, batch)
                logs["loss"] = value
                if show_accuracy:
                    logs["acc"] = acc
                callback_list.on_batch_end(batch, logs)
            epoch_logs = {}
            if val is not None:
                val_loss, val_acc = evaluate_batches(model, *val, batch_size=batch_size, accuracy=show_accuracy)
                epoch_logs["val_loss"] = val_loss
                if show_accuracy:
                    epoch_logs["val_acc"] = val_acc
            callback_list.on_epoch_end(epoch, epoch_logs)
            if model.stop_training:
                break
    except KeyboardInterrupt:
        history.interrupted = (epoch, batch)
        sys.stdout.write(
            f"\nTraining interrupted (Ctrl-C) in epoch {epoch + 1}/{nb_epoch} at batch {batch + 1}/{len(batches)}; "
            "the model keeps the weights of the last finished batch.\n"
        )
        sys.stdout.flush()
    except NonFiniteLossError as err:
        err.history = history
        if verbose == 1:
            sys.stdout.write("\n")
        raise
    callback_list.on_train_end()
    return history


# -- Graph (keras/models.py Graph at 0.2.0): one dict holds the inputs and the outputs --------

def compile_graph(graph, optimizer, loss, theano_mode=None, masked_loss="keras"):
    """loss: {output name: objective name}, one per output; the training loss is their sum."""
    if not isinstance(loss, dict):
        raise ConfigError(f"a Graph compiles with one loss per output, {{output name: loss}} for "
                          f"{', '.join(graph.output_order)}; got {type(loss).__name__}")
    missing = [name for name in graph.output_order if name not in loss]
    unknown = [name for name in loss if name not in graph.outputs]
    if missing or unknown:
        what = f"output {missing[0]!r} has no loss" if missing else f"{unknown[0]!r} is not an output"
        raise ConfigError(f"Graph.compile: {what}; the outputs are {', '.join(graph.output_order)}")

    def loss_attributes():
        functions = {name: losses.get(loss[name]) for name in graph.output_order}
        # loss as given: 0.2.0 wrote the dict compile got
        return {"loss_functions": functions,
                "loss": {name: loss[name] if isinstance(loss[name], str) else functions[name].name
                         for name in graph.output_order}}

    _compile(graph, optimizer, theano_mode, masked_loss, loss_attributes)


def check_graph_data(graph, data, what="fit"):
    """({input name: X}, {output name: y}) from one dict holding both (0.2.0's Graph data)."""
    X = graph.check_input(data, what)
    n = nb_samples(X)
    y = {}
    for name in graph.output_order:
        if name not in data:
            raise InputError(f"{what}: output {name!r} has no targets in the data (a Graph takes one dict "
                             f"with its inputs {', '.join(graph.input_order)} and outputs {', '.join(graph.output_order)})")
        target = np.asarray(data[name])
        if target.dtype.kind not in "biuf":
            raise InputError(f"{what}: targets of output {name!r} must be numeric, got dtype {target.dtype}")
        target = standardize_y(target)
        expected = graph.output_shape[name]
        if len(target) != n:
            raise InputError(f"{what}: the inputs have {n} samples but the targets of output {name!r} have {len(target)}")
        if not _fits(target.shape[1:], expected):
            shown = ", ".join("time" if s is None else str(s) for s in expected)
            raise InputError(f"{what}: targets of output {name!r} must have shape (n, {shown}), got {target.shape}")
        target = target.astype(graph.dtype, copy=False)
        if not np.all(np.isfinite(target)):
            raise InputError(f"{what}: targets of output {name!r} contain NaN or inf")
        y[name] = target
    return X, y


def _graph_weights(graph, y, sample_weight, class_weight, what):
    for key, value in (("sample_weight", sample_weight), ("class_weight", class_weight)):
        if not isinstance(value, dict) or any(k not in graph.outputs for k in value):
            raise InputError(f"{what}: a Graph's {key} is a dict {{output name: weights}} over "
                             f"{', '.join(graph.output_order)}, got {value!r:.80}")
    return {name: standardize_weights(y[name], sample_weight.get(name), class_weight.get(name),
                                      f"{what} (output {name!r})") for name in graph.output_order}


def graph_train_on_batch(graph, data, class_weight={}, sample_weight={}):
    _require_compiled(graph, "train_on_batch")
    X, y = check_graph_data(graph, data, "train_on_batch")
    return train_step(graph, X, y, _graph_weights(graph, y, sample_weight, class_weight, "train_on_batch"))[0]


def graph_test_on_batch(graph, data, sample_weight={}):
    _require_compiled(graph, "test_on_batch")
    X, y = check_graph_data(graph, data, "test_on_batch")
    return _loss(graph, X, y, _graph_weights(graph, y, sample_weight, {}, "test_on_batch"), train=False)[0]


def graph_evaluate(graph, data, batch_size=128, verbose=0, sample_weight={}):
    _require_compiled(graph, "evaluate")
    X, y = check_graph_data(graph, data, "evaluate")
    w = _graph_weights(graph, y, sample_weight, {}, "evaluate")
    return evaluate_batches(graph, X, y, w, positive_int(batch_size, "evaluate", "batch_size"), verbose=verbose)[0]


def graph_fit(graph, data, batch_size=128, nb_epoch=100, verbose=1, callbacks=(), validation_split=0.,
              validation_data=None, shuffle=True, class_weight={}, sample_weight={}):
    _require_compiled(graph, "fit")
    batch_size = _check_fit_arguments(batch_size, nb_epoch, verbose)
    X, y = check_graph_data(graph, data, "fit")
    _graph_weights(graph, y, {}, class_weight, "fit")  # refuses a malformed class_weight all the same
    if any(class_weight.values()):
        # 0.2.0's Graph.fit standardizes the sample weights first (ones when none are
        # given) and passes them with class_weight to standardize_weights, where a sample
        # weight wins: class_weight never takes effect (checked on Keras 0.2.0 itself:
        # the same weights after fitting with and without it); train_on_batch applies it
        warnings.warn("Graph.fit ignores class_weight, as Keras 0.2.0's does; pass per-sample weights as "
                      "sample_weight, or train with train_on_batch, which applies class_weight", stacklevel=3)
    w = _graph_weights(graph, y, sample_weight, {}, "fit")
    val = None
    if validation_data is not None:  # 0.2.0: no sample weights for validation data
        X_val, y_val = check_graph_data(graph, validation_data, "validation_data")
        val = (X_val, y_val, _graph_weights(graph, y_val, {}, {}, "validation_data"))
    else:
        split_at = _split_point(nb_samples(X), validation_split)
        if split_at is not None:
            (X, y, w), val = _split(split_at, X, y, w)
    return _fit_loop(graph, X, y, w, val, batch_size, nb_epoch, verbose, callbacks, shuffle, False,
                     ["loss", "val_loss"])
