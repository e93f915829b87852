"""Training callbacks as in Keras 0.2.0: History, the progress logger, and a few classics.

`fit` always records a `History`; with `verbose=1` it adds a `BaseLogger` that draws
a live progress bar per epoch (samples done, ETA, running loss/acc), with
`verbose=2` one line per epoch, with `verbose=0` nothing.

A callback sees `self.model` and `self.params` (batch_size, nb_epoch, nb_sample,
verbose, do_validation, metrics) and the hooks `on_train_begin/end(logs)`,
`on_epoch_begin/end(epoch, logs)`, `on_batch_begin/end(batch, logs)`. Batch logs
carry `batch`, `size`, `loss` (and `acc` with show_accuracy); epoch-end logs carry
`val_loss` / `val_acc` when validating. Setting `model.stop_training = True` ends
fit after the current epoch.
"""
import sys
import time
import warnings

import numpy as np


class Callback:
    def __init__(self):
        self.params, self.model = {}, None

    def _set_params(self, params):
        self.params = params

    def _set_model(self, model):
        self.model = model

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class CallbackList:
    def __init__(self, callbacks=()):
        self.callbacks = list(callbacks)

    def append(self, callback):
        self.callbacks.append(callback)

    def _set_params(self, params):
        for c in self.callbacks:
            c._set_params(params)

    def _set_model(self, model):
        for c in self.callbacks:
            c._set_model(model)

    def _call(self, hook, *args):
        for c in self.callbacks:
            getattr(c, hook)(*args)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, {} if logs is None else logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, {} if logs is None else logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, {} if logs is None else logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, {} if logs is None else logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", {} if logs is None else logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", {} if logs is None else logs)


METRICS = ("loss", "acc", "val_loss", "val_acc")


def accumulate(totals, seen, logs):
    """Add one batch's loss/acc, weighted by its size, to `totals`; returns the samples
    seen so far (0.2.0's epoch values are these sums over the samples seen)."""
    logs = logs or {}
    size = logs.get("size", 0)
    for k in ("loss", "acc"):
        if k in logs:
            totals[k] = totals.get(k, 0.0) + float(logs[k]) * size
    return seen + size


class History(Callback):
    """`history.epoch`: [0, 1, ...]; `history.history`: {"loss": [...], "acc": [...],
    "val_loss": [...], "val_acc": [...]} (per-epoch values; loss/acc are the means over
    the epoch's batches weighted by batch size, as 0.2.0 computed them).

    `interrupted` is None, or (epoch, batch) where Ctrl-C stopped fit;
    `stopped_at` likewise for an error."""

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}
        self.interrupted = None

    def on_epoch_begin(self, epoch, logs=None):
        self.seen, self.totals = 0, {}

    def on_batch_end(self, batch, logs=None):
        self.seen = accumulate(self.totals, self.seen, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in self.totals.items():
            self.history.setdefault(k, []).append(v / self.seen)
        for k, v in (logs or {}).items():
            if k in METRICS and k not in self.totals:
                self.history.setdefault(k, []).append(float(v))


def _format_duration(seconds):
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if seconds >= 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"


class Progbar:
    """A text progress bar: `update(current, values)` with `values` a list of
    (name, value) shown as they are. verbose=1 redraws one line in place (at most
    every `interval` seconds, and always at the end) on a terminal, and writes only
    the finished bar to a file or pipe (where "\r" redraws pile up); verbose=2
    prints only the final line."""

    def __init__(self, target, width=30, verbose=1, interval=0.1, stream=None, prefix=""):
        self.target, self.width, self.verbose, self.interval = int(target), width, verbose, interval
        self.stream, self.prefix = stream, prefix
        self.start = time.time()
        self.last_draw = 0.0
        self.drawn_width = 0

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _live(self):
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty and isatty())

    def update(self, current, values=(), force=False):
        now = time.time()
        done = current >= self.target
        info = "".join(f" - {k}: {v:.4f}" for k, v in values)
        if self.verbose == 1:
            if not (done or force) and (now - self.last_draw < self.interval or not self._live()):
                return
            self.last_draw = now
            digits = len(str(self.target))
            filled = int(self.width * current / self.target) if self.target else self.width
            bar = "=" * max(filled - 1, 0) + ((">" if not done else "=") if filled > 0 else "")
            line = f"{current:{digits}d}/{self.target} [{bar}{'.' * (self.width - filled)}]"
            elapsed = now - self.start
            if done:
                line += f" - {_format_duration(elapsed)}"
            else:
                eta = elapsed / current * (self.target - current) if current else 0.0
                line += f" - ETA: {_format_duration(eta)}"
            line += info
            pad = " " * max(self.drawn_width - len(line), 0)
            self.drawn_width = len(line)
            out = self._out()
            out.write(("\r" if self._live() else "") + line + pad + ("\n" if done else ""))
            out.flush()
        elif self.verbose == 2 and done:
            out = self._out()
            out.write(f"{self.prefix}{current}/{self.target} - {_format_duration(now - self.start)}{info}\n")
            out.flush()


class BaseLogger(Callback):
    """verbose=1: prints "Epoch k/N" and a live Progbar per epoch; verbose=2: one line per
    epoch ("Epoch k/N - n/n - 3s - loss: ... - val_loss: ...")."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream

    def on_train_begin(self, logs=None):
        self.verbose = self.params.get("verbose", 1)
        self.nb_epoch = self.params.get("nb_epoch", 1)

    def on_epoch_begin(self, epoch, logs=None):
        self.seen, self.totals = 0, {}
        header = f"Epoch {epoch + 1}/{self.nb_epoch}"
        if self.verbose == 1:
            out = self.stream if self.stream is not None else sys.stdout
            out.write(header + "\n")
            out.flush()
        if self.verbose:
            self.progbar = Progbar(self.params["nb_sample"], verbose=self.verbose, stream=self.stream,
                                   prefix=header + " - ")

    def _running(self):
        return [(k, self.totals[k] / self.seen) for k in ("loss", "acc") if k in self.totals]

    def on_batch_end(self, batch, logs=None):
        self.seen = accumulate(self.totals, self.seen, logs)
        # the last batch is drawn by on_epoch_end, with the validation results
        if self.verbose and self.seen < self.params["nb_sample"]:
            self.progbar.update(self.seen, self._running())

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose:
            values = self._running() + [(k, float(v)) for k, v in (logs or {}).items() if k in ("val_loss", "val_acc")]
            self.progbar.update(max(self.seen, self.params["nb_sample"]), values)


class EarlyStopping(Callback):
    """Stop when `monitor` (default val_loss) has not improved for `patience` epochs."""

    def __init__(self, monitor="val_loss", patience=0, verbose=0):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.best, self.wait = np.inf, 0

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Early stopping requires {self.monitor} available!", RuntimeWarning)
            return
        if current < self.best:
            self.best, self.wait = current, 0
        else:
            if self.wait >= self.patience:
                if self.verbose > 0:
                    print(f"Epoch {epoch:05d}: early stopping")
                self.model.stop_training = True
            self.wait += 1


class ModelCheckpoint(Callback):
    """Save the weights (model.save_weights) after each epoch, or only on improvement."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, mode="auto"):
        super().__init__()
        self.filepath, self.monitor, self.verbose, self.save_best_only = filepath, monitor, verbose, save_best_only
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"ModelCheckpoint mode {mode} is unknown, fallback to auto mode", RuntimeWarning)
            mode = "auto"
        maximize = mode == "max" or (mode == "auto" and "acc" in monitor)
        self.monitor_op = np.greater if maximize else np.less
        self.best = -np.inf if maximize else np.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        filepath = self.filepath.format(epoch=epoch, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", RuntimeWarning)
            elif self.monitor_op(current, self.best):
                if self.verbose > 0:
                    print(f"Epoch {epoch:05d}: {self.monitor} improved from {self.best:0.5f} to "
                          f"{current:0.5f}, saving model to {filepath}")
                self.best = current
                self.model.save_weights(filepath, overwrite=True)
            elif self.verbose > 0:
                print(f"Epoch {epoch:05d}: {self.monitor} did not improve")
        else:
            if self.verbose > 0:
                print(f"Epoch {epoch:05d}: saving model to {filepath}")
            self.model.save_weights(filepath, overwrite=True)


class LearningRateScheduler(Callback):
    """Set `model.optimizer.lr = schedule(epoch)` at the start of every epoch."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.lr = float(self.schedule(epoch))
