"""Keras 1.x/2.x recurrent layers -> LayerSpecs of the reference classes, with the weight
maps that turn each stored layout into the reference's weight order.

The reference's weights (reference/recurrent): SimpleRNN `W, U, b`; GRU `W_z, U_z, b_z,
W_r, U_r, b_r, W_h, U_h, b_h`; LSTM `W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o,
b_o` (each W (input, units), U (units, units), b (units,)). What the files hold (checked at
the tags, keras/layers/recurrent.py and cudnn_recurrent.py):

- 1.x per gate (`consume_less` 'cpu'/'mem'): `<name>_W_i, <name>_U_i, <name>_b_i, ...` in
  the order above (LSTM i, c, f, o, as the reference);
- 1.x 'gpu': `<name>_W (in, n*units)`, `<name>_U`, `<name>_b`, gate blocks i, f, c, o (GRU z, r, h);
- 2.x: `kernel`, `recurrent_kernel`, `bias` fused as 1.x 'gpu' (`:0` suffixed when
  TensorFlow wrote them); `use_bias=False`: no bias (read as zeros); GRU `reset_after=True`:
  bias (2, 3*units), the input biases then the recurrent ones;
- CuDNNLSTM: bias (8*units): input then recurrent biases, i, f, c, o each; cuDNN adds them;
  CuDNNGRU: bias (6*units) as GRU reset_after's (2, 3*units) flattened. Each gate's kernel
  block holds cuDNN's own matrix layout (its buffer is cuDNN's (units, input) matrix, the
  recurrent block is transposed): see `weight_map`.

Keras loads a layer's arrays by position (topology.load_weights_from_hdf5_group); each
array's name is checked against the position it is loaded into, so a file whose layout is
not the one its config describes is refused instead of read into the wrong gates (LSTM's
c and f blocks have the same shape: no shape check would catch a swap).
"""
import inspect

import numpy as np

from ..registry import LAYERS
from ..untrusted import check_limit, quote
from . import releases12
from . import layers12
from .layers12 import boolean, stored_arrays, weight_suffix
from .spec import KerasFileError, LayerSpec

RECURRENT12 = ("SimpleRNN", "GRU", "LSTM", "CuDNNGRU", "CuDNNLSTM")
WRAPPERS12 = ("Bidirectional",)
GATES = {"SimpleRNN": "", "GRU": "zrh", "LSTM": "icfo"}
FUSED_ORDER = {"SimpleRNN": "", "GRU": "zrh", "LSTM": "ifco"}  # the gate blocks of a fused kernel
MERGE_MODES = ("concat", "sum", "mul", "ave", None)

def takes(kind, argument):
    """Whether the reference class `kind` has the constructor argument `argument`."""
    cls = LAYERS.get(kind)
    return cls is not None and any(argument in inspect.signature(k.__dict__["__init__"]).parameters
                                   for k in cls.__mro__ if "__init__" in k.__dict__)


class WeightMap:
    """A layer's weight map: [(stored name, array)] in the file's order -> the reference
    layer's arrays in its get_weights order. `expected` are the stored names' endings, by
    position; `convert(arrays)` builds {reference weight name: array}; `order` is the
    reference layer's weight order (a layer may give its own: `names=`)."""

    def __init__(self, where, expected, convert, order, layout):
        self.where, self.expected, self.convert, self.order, self.layout = where, expected, convert, order, layout

    def named(self, pairs):
        """{reference weight name: array} of the stored [(name, array)], checked."""
        described = f"the {self.layout} layout ({', '.join(self.expected)})"
        return self.convert(stored_arrays(pairs, self.expected, self.where, described))

    def __call__(self, pairs, names=None):
        named = self.named(pairs)
        order = self.order if names is None else list(names)
        missing = [n for n in order if n not in named]
        if missing:
            raise KerasFileError(f"{self.where}: the reference layer's weight {quote(missing[0])} has no "
                                 "counterpart in this layout")
        return [named[n] for n in order]


def _blocks(array, n, axis, where, what):
    if array.ndim < 1 or array.shape[axis] % n:
        raise KerasFileError(f"{where}: {what} has shape {tuple(array.shape)} in the file, not {n} gate blocks "
                             "(the file does not fit its config)")
    return np.split(array, n, axis=axis)


def reference_order(kind):
    gates = GATES[kind]
    if not gates:
        return ["W", "U", "b"]
    return [f"{w}_{g}" for g in gates for w in "WUb"]


def weight_map(kind, layout, where, use_bias=True, reset_after=False):
    """The WeightMap of a recurrent layer `kind` (SimpleRNN, GRU, LSTM) stored in `layout`:
    "per_gate" (1.x cpu/mem), "fused_1x" (1.x gpu), "fused" (2.x), "cudnn" (CuDNNLSTM/GRU)."""
    gates, fused = GATES[kind], FUSED_ORDER[kind]
    order = reference_order(kind)
    if layout == "per_gate":
        expected = order if gates else ["W", "U", "b"]
        return WeightMap(where, expected, lambda arrays: dict(zip(order, arrays)), order,
                         "per-gate (consume_less cpu/mem)")
    names = {"fused_1x": ("W", "U", "b"), "fused": ("kernel", "recurrent_kernel", "bias"),
             "cudnn": ("kernel", "recurrent_kernel", "bias")}[layout]
    expected = list(names if use_bias else names[:2])
    label = {"fused_1x": "fused (consume_less gpu)", "fused": "fused kernel/recurrent_kernel/bias",
             "cudnn": "CuDNN"}[layout] + ("" if use_bias else " without bias")
    n = max(len(fused), 1)

    def convert(arrays):
        W, U = arrays[0], arrays[1]
        if W.ndim != 2 or U.ndim != 2:
            raise KerasFileError(f"{where}: {names[0]} and {names[1]} must be matrices, got shapes "
                                 f"{tuple(W.shape)} and {tuple(U.shape)}")
        units = U.shape[0]
        if use_bias:
            b = arrays[2]
            if reset_after or layout == "cudnn":
                # (2, n*units) or CuDNN's flat (2*n*units): input biases, then recurrent ones
                if b.size != 2 * n * units:
                    raise KerasFileError(f"{where}: bias has shape {tuple(b.shape)}, expected "
                                         f"{(2, n * units) if reset_after else (2 * n * units,)}")
                b = b.reshape(2, n * units)
                if not reset_after:  # CuDNNLSTM: cuDNN adds the two biases
                    b = b[0] + b[1]
        else:
            b = np.zeros((2, n * units) if reset_after else (n * units,), dtype=W.dtype)
        out = {}
        Ws = _blocks(W, n, 1, where, names[0])
        Us = _blocks(U, n, 1, where, names[1])
        if reset_after:
            bs, rbs = _blocks(b[0], n, 0, where, "bias"), _blocks(b[1], n, 0, where, "bias")
        else:
            bs = _blocks(b, n, 0, where, "bias")
        if layout == "cudnn":
            # cuDNN reads each gate's block as its own row-major matrices: the input block's
            # buffer as (units, input) and the recurrent block as (units_out, units_in), so
            # as the reference's (input, units) / (units_in, units_out) they are the block's
            # buffer reshaped and transposed (Keras's own converter, _convert_rnn_weights,
            # at 2.1.6 and 2.3.1: kernel.T.reshape(kernel.shape, order='F'), k.T)
            Ws = [w.reshape(-1).reshape(w.shape[1], w.shape[0]).T for w in Ws]
            Us = [u.T for u in Us]
        for j, gate in enumerate(fused or [""]):
            suffix = f"_{gate}" if gate else ""
            out["W" + suffix], out["U" + suffix], out["b" + suffix] = Ws[j], Us[j], bs[j]
            if reset_after:
                out["bU" + suffix] = rbs[j]  # the recurrent bias (added to h·U before r multiplies it)
        return out

    if reset_after:
        order = order + [f"bU_{g}" for g in gates]  # the reference GRU(reset_after=True)'s order
    return WeightMap(where, expected, convert, order, label)


def _unprefixed(name):
    last = str(name).rsplit("/", 1)[-1]
    for prefix in ("forward_", "backward_"):
        if last.startswith(prefix):
            return last[len(prefix):]
    return last


def bidirectional_map(inner, where):
    """Bidirectional: the forward layer's arrays, then the backward one's (each named
    forward_<layer>... / backward_<layer>...), each through the inner layer's map."""

    class Both(WeightMap):
        def named(self, pairs):
            raise NotImplementedError

        def __call__(self, pairs, names=None):
            pairs = list(pairs)
            half = len(pairs) // 2
            first, second = pairs[:half], pairs[half:]
            if len(pairs) % 2 or not all("forward_" in str(n) for n, _ in first) \
                    or not all("backward_" in str(n) for n, _ in second):
                raise KerasFileError(f"{where}: a Bidirectional layer stores its forward layer's weights "
                                     "(forward_...) then its backward layer's (backward_...); the file holds "
                                     + ", ".join(quote(weight_suffix(n), 40) for n, _ in pairs[:8]))
            inner_names = None
            if names is not None:  # the wrapper's names may be prefixed: forward_W_i, forward/W_i
                inner_names = [_unprefixed(n) for n in list(names)[:len(names) // 2]]
            return inner(first, inner_names) + inner(second, inner_names)

    return Both(where, [], None, None, "Bidirectional")


# ---------------------------------------------------------------------------------------
def translate(class_name, config, release, backend, label, context):
    """The LayerSpec of a 1.x/2.x recurrent layer (or a Bidirectional wrapping one).
    `context`: {"masked": a mask may reach the layer, "notes": [...]} (keras12)."""
    if class_name == "Bidirectional":
        return _bidirectional(config, release, backend, label, context)
    return _recurrent(class_name, config, release, backend, label, context)


def _positive(value, key, where):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise KerasFileError(f"{where}: {key} must be a positive integer, got {quote(value)}")
    return check_limit(value, "units", where, key, KerasFileError)


def input_shape(config, where):
    """The per-sample input shape a recurrent layer config gives (layers12.input_shape, 1.x's
    input_dim/input_length included); each size within the layer-size limit."""
    shape = layers12.input_shape(config, where, input_dim=True)
    for d in shape or ():
        if d is not None:
            check_limit(d, "units", where, "an input_shape entry", KerasFileError)
    return shape


def initial_output_of(release, backend):
    """What a masked step before a row's first unmasked one outputs when the layer is given
    initial states (reference Recurrent's `initial_output`): the given h where the backend's
    rnn outputs `states[0]` at a masked step (keras-team 2.0-2.2.x on TensorFlow; CNTK, whose
    masking is exact only for output == state 0), else 0 (Theano's `initial_output`;
    keras-team 2.3.x on TensorFlow and tf.keras run tf.keras's rnn, which starts from zeros).
    An unparsed 2.x release on TensorFlow (a span) gets 0."""
    parsed = releases12.parse(release)
    if backend == "cntk" or (backend == "tensorflow" and parsed is not None and not parsed[3]
                             and parsed[0] == 2 and parsed[1] < 3):
        return "state"
    return "zero"


def _recurrent(class_name, config, release, backend, label, context):
    name = config.get("name") if isinstance(config.get("name"), str) else ""
    where = f"{label} ({class_name}{' ' + quote(name, 40) if name else ''})"
    cudnn = class_name.startswith("CuDNN")
    kind = class_name[5:] if cudnn else class_name
    v1 = releases12.major(release) == 1
    accepted = releases12.RECURRENT_KEYS[1 if v1 else 2]
    unknown = [k for k in config if k not in accepted]
    if unknown:
        raise KerasFileError(f"{where}: unknown config key {quote(unknown[0])} (it may change the numbers); "
                             f"a Keras {'1' if v1 else '2'}.x {class_name} is read with: {', '.join(sorted(accepted))}")
    units = config.get("output_dim" if v1 else "units", config.get("units", config.get("output_dim")))
    if units is None:
        raise KerasFileError(f"{where}: the number of units ({'output_dim' if v1 else 'units'}) is missing")
    units = _positive(units, "units", where)
    args = {"output_dim": units, "return_sequences": boolean(config, "return_sequences", where)}
    shape = input_shape(config, where)
    if shape is not None:
        if len(shape) != 2:
            raise KerasFileError(f"{where}: a recurrent layer takes (timesteps, features) input, the config "
                                 f"gives input shape {shape}")
        args["input_shape"] = shape
    if cudnn:  # fixed: cuDNN's LSTM/GRU use sigmoid gates and tanh
        args["activation"], args["inner_activation"] = "tanh", "sigmoid"
    else:
        args["activation"] = _activation(config, "activation", releases12.default_activation(kind), where, release)
        if kind != "SimpleRNN":
            key = "inner_activation" if v1 else "recurrent_activation"
            args["inner_activation"] = _activation(config, key, releases12.default_recurrent_activation(release),
                                                   where, release)
    # every 1.x/2.x release's rule, set whether or not the config shows a mask source: a
    # mask reaching the layer must never meet the reference's default (0.2.0's) rule
    args["mask_rule"] = releases12.MASK_RULE
    if initial_output_of(release, backend) != "zero":
        # read only when the call gives initial states (initial_state) and a mask reaches it
        args["initial_output"] = initial_output_of(release, backend)
    if boolean(config, "go_backwards", where):
        args["go_backwards"] = True
    if boolean(config, "stateful", where):
        args["stateful"] = True  # the reference refuses it, saying why
    if boolean(config, "time_major", where):
        raise KerasFileError(f"{where}: time_major=True (inputs as (time, batch, features)) is not read; "
                             "refused rather than computing other numbers")
    if boolean(config, "return_state", where):
        if not takes(kind, "return_state"):
            raise KerasFileError(f"{where}: return_state=True is not computed by this reference yet; refused "
                                 "rather than computing other numbers")
        args["return_state"] = True
    use_bias = boolean(config, "use_bias", where, default=True) and boolean(config, "bias", where, default=True)
    reset_after = kind == "GRU" and (cudnn or _reset_after(config, release, where))
    if reset_after:
        if not takes("GRU", "reset_after"):
            raise KerasFileError(f"{where}: GRU reset_after=True (CuDNNGRU's cell) is not computed by this "
                                 "reference yet; refused rather than computing other numbers")
        args["reset_after"] = True
    if cudnn:
        layout = "cudnn"
    elif v1:
        layout = "fused_1x" if releases12.fused_layout_1x(release, config.get("consume_less", "cpu")) else "per_gate"
        if config.get("consume_less", "cpu") not in ("cpu", "mem", "gpu"):
            raise KerasFileError(f"{where}: unknown consume_less {quote(config['consume_less'])}; "
                                 "accepted: cpu, mem, gpu")
    else:
        layout = "fused"
    if kind == "SimpleRNN" and layout == "fused_1x":
        layout = "per_gate"  # SimpleRNN has one W, U, b whatever consume_less says
    spec = LayerSpec(kind=kind, arguments=args, label=label, name=name,
                     weight_map=weight_map(kind, layout, where, use_bias=use_bias, reset_after=reset_after))
    ignored = sorted(k for k in config if k in releases12.NO_EFFECT and k != "name")
    if ignored:
        context["notes"].append(f"{where}: keys without effect at inference: {', '.join(ignored)}")
    if not use_bias:
        context["notes"].append(f"{where}: use_bias=False read as zero biases")
    return spec


def _undecided(release):
    """Why a left-out key's default is not known: the rest of the sentence."""
    if releases12.parse(release) is None:  # told from the keys only: a span of releases
        return (f"whose default differs between the releases Keras {release} may be; name the release "
                "(keras_version=, --keras-version)")
    return (f"whose default differs between the TensorFlow versions that wrote Keras {release} files; refused "
            "rather than guessing")


def _reset_after(config, release, where):
    """GRU's reset_after: as written, else the default of the release (a config of a
    release that has the key always writes it)."""
    if "reset_after" in config:
        return boolean(config, "reset_after", where)
    default = releases12.default_reset_after(release)
    if default is None:
        raise KerasFileError(f"{where}: the config leaves out reset_after, {_undecided(release)}")
    return default


def _activation(config, key, default, where, release):
    """The activation under `key`: as written (layers12.activation: null is linear), else the
    release's default, else refused (a release whose default is undecided)."""
    from .layers12 import activation

    if key not in config:
        if default is None:
            raise KerasFileError(f"{where}: the config leaves out {key}, {_undecided(release)}")
        return default
    return activation(config, where, key)


def _bidirectional(config, release, backend, label, context):
    name = config.get("name") if isinstance(config.get("name"), str) else ""
    where = f"{label} (Bidirectional{' ' + quote(name, 40) if name else ''})"
    unknown = [k for k in config if k not in ("name", "trainable", "layer", "merge_mode", "batch_input_shape",
                                               "input_shape", "dtype", "input_dtype")]
    if unknown:
        raise KerasFileError(f"{where}: unknown config key {quote(unknown[0])}; Bidirectional is read with: "
                             "name, trainable, layer, merge_mode, batch_input_shape, dtype")
    inner = config.get("layer")
    if not isinstance(inner, dict) or not isinstance(inner.get("config"), dict):
        raise KerasFileError(f"{where}: 'layer' must be the wrapped layer's {{class_name, config}}, got {quote(inner)}")
    inner_class = inner.get("class_name")
    if inner_class not in RECURRENT12:
        raise KerasFileError(f"{where}: it wraps {quote(inner_class)}; accepted: {', '.join(RECURRENT12)}")
    merge_mode = config.get("merge_mode", "concat")
    if merge_mode not in MERGE_MODES:
        raise KerasFileError(f"{where}: unknown merge_mode {quote(merge_mode)}; accepted: concat, sum, mul, ave, null")
    if "Bidirectional" not in LAYERS:
        raise KerasFileError(f"{where}: Bidirectional layers are not computed by this reference yet; refused")
    inner_config = dict(inner["config"])
    shape = input_shape(config, where)
    if shape is not None and input_shape(inner_config, where) is None:
        inner_config["batch_input_shape"] = [None] + list(shape)
    inner_spec = _recurrent(inner_class, inner_config, release, backend, f"{label}'s wrapped layer", context)
    arguments = {"layer": inner_spec, "merge_mode": merge_mode}
    if shape is not None and takes("Bidirectional", "input_shape"):  # a first layer: the model's input shape
        arguments["input_shape"] = shape
    if context.get("masked") and inner_spec.arguments.get("return_sequences"):
        # at masked steps keras-team's Bidirectional repeats each half's previous output (carry),
        # tf.keras's outputs 0 (zero_output_for_mask); the config does not say, the release does
        if releases12.parse(release) is None and releases12.major(release) == 2:
            raise KerasFileError(f"{where}: with a mask and return_sequences=True, Bidirectional computes "
                                 "differently in keras-team Keras and tf.keras, and the file does not state "
                                 "its release; name it (keras_version=, --keras-version)")
        if releases12.is_tf_keras(release):
            if not takes("Bidirectional", "masked_output"):
                raise KerasFileError(f"{where}: tf.keras's Bidirectional (0 at masked steps) is not computed by "
                                     "this reference yet; refused")
            arguments["masked_output"] = "zero"
    return LayerSpec(kind="Bidirectional", arguments=arguments, label=label, name=name,
                     weight_map=bidirectional_map(inner_spec.weight_map, where))
