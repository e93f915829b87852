"""Sequential: a stack of layers with Keras 0.2.0's prediction, weights and gradients.
The containers (Merge, Graph: reference/containers.py) register here. Models write
themselves as Keras 0.2.0 did (reference/keras_files); building a model from a file is
reference/build.py's.
"""
import numpy as np

from .keras_files import hdf5, keras02_writer, text
from .dtypes import (DTYPE_FROM_ARGUMENT, DTYPE_FROM_WEIGHTS, DTYPE_NOT_IN_WEIGHTS,  # noqa: F401 (re-exported)
                     DTYPE_UNDECIDED, DTYPES, check_dtype)
from .errors import ConfigError, InputError
from .layers import Embedding, Layer
from .untrusted import quote, table
from .validators import input_array, positive_int

#: config "name" -> container class (Sequential, Merge, Graph), each with get_config (reference/build.py
#: builds them): what a config may hold besides a registered layer
CONTAINERS = {}


def register_container(cls):
    CONTAINERS[cls.__name__] = cls
    return cls


def is_container(layer):
    return type(layer).__name__ in CONTAINERS



def check_name(name, what):
    """`name` if it is a non-empty string (a container's input, node, layer or output
    name), else a ConfigError: "<what> name must be ..."."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{what} name must be a non-empty string, got {quote(name)}")
    return name


def is_input_shape(shape):
    """Whether `shape` is a per-sample input shape: a non-empty tuple of positive integers or None."""
    return isinstance(shape, (list, tuple)) and bool(shape) and not any(
        s is not None and (isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1) for s in shape)


def shape_text(shape):
    """A per-sample shape as summaries and errors show it: (batch, time, 3)."""
    return str(("batch",) + tuple("time" if s is None else s for s in shape)).replace("'", "")


def forward_layer(layer, X, mask, train, rng):
    """layer.forward, keeping the training-mode output of a layer with an activity
    regularizer: 0.2.0 penalised it (reference/regularizers.py), in any model."""
    Y = layer.forward(X, mask, train=train, rng=rng)
    if getattr(layer, "activity_regularizer", None) is not None:
        layer.activity_output = Y if train else None
    return Y


def backward_layer(layer, dY):
    """layer.backward of dY plus, after a training-mode forward, the gradient of the
    layer's activity penalty with respect to its output."""
    if getattr(layer, "activity_output", None) is not None:
        dY = dY + layer.activity_regularizer.gradient(layer.activity_output)
    return layer.backward(dY)


class Model:
    """What Sequential and Graph share: `self.layers` (a Graph's nodes, in add_node order)
    hold the weights, the dtype, and the Keras 0.2.0 file methods (reference/keras_files)."""

    def __init__(self, dtype="float32", seed=None, initialise=True):
        self.dtype = check_dtype(dtype)
        self.dtype_from = DTYPE_FROM_ARGUMENT
        self.rng = np.random.default_rng(seed)
        self.initialise = initialise

    @classmethod
    def _for_config(cls, dtype, seed, initialise):
        """An empty model for a builder (reference/build.py); dtype None: float32 until a weights file decides."""
        model = cls(dtype="float32" if dtype is None else dtype, seed=seed, initialise=initialise)
        if dtype is None:
            model.dtype_from = DTYPE_UNDECIDED
        return model

    def set_dtype(self, dtype, dtype_from=DTYPE_FROM_ARGUMENT):
        """Compute in `dtype` from now on (every built layer's weights are cast);
        `dtype_from` records why (see DTYPE_FROM_*)."""
        self.dtype = check_dtype(dtype)
        self.dtype_from = dtype_from
        for layer in self.layers:
            layer.set_dtype(self.dtype)  # an unbuilt layer only records it (a Merge passes it on)

    _walk = None

    def walked(self):
        """The model's walk (reference/topology.py), kept until a construction method
        changes the model (the Graph's and the functional model's forward passes read it at
        every batch)."""
        if self._walk is None:
            from .topology import walk
            self._walk = walk(self)
        return self._walk

    @property
    def dtype_decided(self):
        """False for a loaded model whose dtype a weights file may still decide."""
        return self.dtype_from != DTYPE_UNDECIDED

    def get_weights(self):
        """Every layer's weights, layer by layer in Keras order."""
        self._require_built()
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        self._require_built()
        weights = list(weights)
        counts = [len(layer.weight_names) for layer in self.layers]
        if len(weights) != sum(counts):
            per_layer = ", ".join(f"{layer.name}: {c}" for layer, c in zip(self.layers, counts))
            raise ConfigError(f"the model has {sum(counts)} weight arrays ({per_layer}), got {len(weights)}")
        start = 0
        for layer, count in zip(self.layers, counts):
            layer.set_weights(weights[start:start + count])
            start += count

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def to_json(self, **kwargs):
        """Keras 0.2.0's `model.to_json()`; keyword arguments go to `json.dumps`."""
        return text.to_json(self.get_config(), **kwargs)

    def to_yaml(self, **kwargs):
        """Keras 0.2.0's `model.to_yaml()` (shapes tagged `!!python/tuple`); kwargs go to `yaml.dump`."""
        return text.to_yaml(self.get_config(), **kwargs)

    def save_weights(self, path, overwrite=False):
        """Keras 0.2.0's HDF5 layout, written atomically; refuses to overwrite unless asked."""
        return hdf5.save_weights(self, path, overwrite=overwrite)

    def load_weights(self, path):
        return hdf5.load_weights(self, path)


@register_container
class Sequential(Model):
    def __init__(self, layers=None, dtype="float32", seed=None, initialise=True):
        """initialise=False: layers get shapes only (see Layer.build) until weights are
        set, for a model whose weights will be loaded or never read."""
        super().__init__(dtype, seed, initialise)
        self.layers = []
        self._counts = {}
        for layer in layers or []:
            self.add(layer)

    # -- construction -------------------------------------------------------------------
    def add(self, layer):
        self._walk = None  # its structure changes: walk it again
        if not isinstance(layer, Layer):
            raise ConfigError(f"Sequential.add takes a layer, got {type(layer).__name__}")
        if layer.nb_outputs > 1:  # as Keras's Sequential: one tensor flows from layer to layer
            raise ConfigError(f"a Sequential's layers have one output each; {type(layer).__name__} here has "
                              f"{layer.nb_outputs} (return_state or merge_mode=None): use a functional model")
        kind = type(layer).__name__.lower()
        self._counts[kind] = self._counts.get(kind, 0) + 1
        layer.name = f"{kind}_{self._counts[kind]}"
        self.layers.append(layer)
        if len(self.layers) == 1 and hasattr(layer, "check_inputs"):  # a Merge (reference/containers.py)
            layer.set_dtype(self.dtype)  # its branches compute in this model's dtype
        elif len(self.layers) == 1:
            if layer.declared_input_shape is not None and layer.declared_input_shape[-1] is not None \
                    or isinstance(layer, Embedding):
                layer.build(layer.declared_input_shape, self.dtype, self.rng, self.initialise)
        elif self.layers[-2].built:
            previous = self.layers[-2]
            layer.build(previous.output_shape(previous.input_shape), self.dtype, self.rng, self.initialise)

    @property
    def input_shape(self):
        """Per-sample input shape, None for unknown dims (time is usually None)."""
        return self.layers[0].input_shape if self.layers and self.layers[0].built else None

    @property
    def output_shape(self):
        layer = self.layers[-1]
        return layer.output_shape(layer.input_shape)

    def _build_from(self, X):
        shape = (None,) * (X.ndim - 2) + (X.shape[-1],)
        try:
            for layer in self.layers:
                if not layer.built:
                    layer.build(shape, self.dtype, self.rng, self.initialise)
                shape = layer.output_shape(shape)
        except ConfigError as exc:  # the data's shape decided the layers' input shapes
            raise InputError(f"input of shape {X.shape} does not fit the model: {exc}") from None

    # -- weights ---------------------------------------------------------------------------
    def _require_built(self):
        if not self.layers:
            raise ConfigError("the model has no layers")
        if not all(layer.built for layer in self.layers):
            raise ConfigError(
                "the model's input shape is unknown: give the first layer input_dim or input_shape, "
                "or call predict once"
            )

    def summary(self, print_fn=print):
        self._require_built()
        rows = [("Layer", "Type", "Output shape", "Params")]
        for layer in self.layers:
            rows.append((layer.name, type(layer).__name__, shape_text(layer.output_shape(layer.input_shape)),
                         str(layer.count_params())))
        lines = table(rows)
        lines.append(f"Total params: {self.count_params()}  (dtype {self.dtype})")
        text = "\n".join(lines)
        print_fn(text)
        return text

    # -- computation -----------------------------------------------------------------------
    def check_input(self, X):
        if not self.layers:
            raise ConfigError("the model has no layers")
        if hasattr(self.layers[0], "check_inputs"):  # a Merge: one array per branch
            return self.layers[0].check_inputs(X)
        X = input_array(X)
        if X.ndim == 0 or X.shape[0] == 0:
            raise InputError(f"empty batch: input has shape {X.shape}")
        first = self.layers[0]
        if isinstance(first, Embedding):
            if X.ndim != 2:
                raise InputError(f"the model starts with an Embedding and takes (batch, time) token ids, got shape {X.shape}")
            if X.dtype.kind not in "iuf":
                raise InputError(f"token ids must be integers, got dtype {X.dtype}")
            return X
        if X.dtype.kind not in "iuf":
            raise InputError(f"input must be numeric, got dtype {X.dtype}")
        if not first.built:
            self._build_from(X)
        expected = first.input_shape
        if X.ndim != len(expected) + 1:
            raise InputError(f"input must have rank {len(expected) + 1} (batch, {', '.join('time' if s is None else str(s) for s in expected)}), got shape {X.shape}")
        if expected[-1] is not None and X.shape[-1] != expected[-1]:
            raise InputError(f"input width must be {expected[-1]}, got {X.shape[-1]} (shape {X.shape})")
        return X.astype(self.dtype, copy=False)

    def forward(self, X, train=False):
        """(output, output mask) of the whole stack; layers keep what backward needs."""
        mask = None
        for layer in self.layers:
            X = forward_layer(layer, X, mask, train, self.rng)
            mask = layer.output_mask(mask)
        return X, mask

    def backward(self, dY):
        """Gradients of every weight (get_weights order) for the last forward; after a
        training-mode forward they include the activity regularizers' terms."""
        grads = []
        for layer in reversed(self.layers):
            dY, layer_grads = backward_layer(layer, dY)
            grads[:0] = layer_grads
        return grads

    def predict(self, X, batch_size=128, verbose=0):
        batch_size = positive_int(batch_size, "predict", "batch_size", InputError)
        X = self.check_input(X)
        self._require_built()
        n = len(X[0]) if isinstance(X, list) else len(X)  # a Merge-first model takes a list
        outputs = [self.forward([x[i:i + batch_size] for x in X] if isinstance(X, list) else X[i:i + batch_size])[0]
                   for i in range(0, n, batch_size)]
        return np.concatenate(outputs, axis=0)

    def gradients(self, X, G):
        """d sum(Y * G) / d w for every array of get_weights(), prediction mode."""
        X = self.check_input(X)
        self._require_built()
        Y, _ = self.forward(X)
        G = np.asarray(G, dtype=self.dtype)
        if G.shape != Y.shape:
            raise InputError(f"G must have the output's shape {Y.shape}, got {G.shape}")
        return self.backward(G)

    # -- Keras 0.2.0 configs (reference/keras_files/keras02_writer.py) ------------------------
    def get_config(self):
        """Keras 0.2.0's config: {"name": "Sequential", "layers": [...]} (plus the compile
        settings of a compiled model); a Merge first layer writes its branches."""
        if not self.layers:
            raise ConfigError("the model has no layers")
        layers = [layer.get_config() if is_container(layer) else keras02_writer.layer_config(layer, first=index == 0)
                  for index, layer in enumerate(self.layers)]
        return keras02_writer.compiled_config(self, {"name": "Sequential", "layers": layers})

    # -- training (Keras 0.2.0 compile/fit; see reference/training.py) ------------------------
    def compile(self, optimizer, loss, class_mode="categorical", theano_mode=None, masked_loss="keras"):
        """Choose the optimizer (name, config dict or instance) and the loss (a Keras 0.2.0
        objective name, short or full). After it the model has `optimizer`, `loss` (the
        objective's full name, as 0.2.0 saved it) and `class_mode`.

        masked_loss: how a loss over a masked sequence output is averaged.
          "keras" (default, what 0.2.0 did): sum(w * score) over every entry, masked
            timesteps included, divided by sum(mask * w);
          "corrected": masked timesteps are left out of the numerator as well.
        theano_mode is accepted and ignored (0.2.0 scripts pass it)."""
        from . import training
        training.compile(self, optimizer, loss, class_mode=class_mode, theano_mode=theano_mode,
                         masked_loss=masked_loss)

    def fit(self, X, y, batch_size=128, nb_epoch=100, verbose=1, callbacks=[], validation_split=0.,
            validation_data=None, shuffle=True, show_accuracy=False, class_weight=None, sample_weight=None):
        """Train for nb_epoch epochs; returns a callbacks.History (loss, acc, val_loss, val_acc)."""
        from . import training
        return training.fit(self, X, y, batch_size=batch_size, nb_epoch=nb_epoch, verbose=verbose,
                            callbacks=callbacks, validation_split=validation_split,
                            validation_data=validation_data, shuffle=shuffle, show_accuracy=show_accuracy,
                            class_weight=class_weight, sample_weight=sample_weight)

    def train_on_batch(self, X, y, accuracy=False, class_weight=None, sample_weight=None):
        """One update on (X, y); returns the loss before it (and the accuracy with accuracy=True)."""
        from . import training
        return training.train_on_batch(self, X, y, accuracy=accuracy, class_weight=class_weight,
                                       sample_weight=sample_weight)

    def test_on_batch(self, X, y, accuracy=False, sample_weight=None):
        from . import training
        return training.test_on_batch(self, X, y, accuracy=accuracy, sample_weight=sample_weight)

    def evaluate(self, X, y, batch_size=128, show_accuracy=False, verbose=1, sample_weight=None):
        """The loss (and [loss, accuracy] with show_accuracy=True) in prediction mode."""
        from . import training
        return training.evaluate(self, X, y, batch_size=batch_size, show_accuracy=show_accuracy,
                                 verbose=verbose, sample_weight=sample_weight)

    def predict_proba(self, X, batch_size=128, verbose=1):
        from . import training
        return training.predict_proba(self, X, batch_size=batch_size, verbose=verbose)

    def predict_classes(self, X, batch_size=128, verbose=1):
        from . import training
        return training.predict_classes(self, X, batch_size=batch_size, verbose=verbose)
