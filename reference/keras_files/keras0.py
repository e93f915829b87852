"""Reading Keras 0.1.x–0.3.x model configs into specs (reference/keras_files/spec.py).

A config names its model (`{"name": "Sequential", "layers": [...]}` or a Graph's
`input_config`, `node_config`, `output_config`, `nodes`), each layer by its class name
and constructor arguments. Keras 0.1.x configs carry `input_dim` on every layer; 0.2.0's
add `input_length`/`input_shape`; 0.3.x's add the keys releases.KEYS lists. A Merge first
layer is `{"name": "Merge", "layers": [branch configs], "mode", "concat_axis"}`.

`read_config(config, keras_version=None)` tells the release (releases.candidates: from
the keys present and absent), translates every layer under that release's rules into the
reference's arguments and returns a ModelSpec. When the keys leave several releases and
their rules give different numbers for this model, it refuses, naming them, unless the
caller names one; a named release the keys contradict is refused too.
"""
import inspect
import warnings

from .. import activations
from .. import advanced_activations, convolutional, noise, normalization  # noqa: F401  (their layers join the registry)
from ..errors import ConfigError
from ..layers import Activation, Dense, Dropout, Embedding, TimeDistributedDense
from ..recurrent import RECURRENT_LAYERS, Recurrent, SimpleRNN
from ..registry import LAYERS, accepted_keys, accepted_names
from ..untrusted import check_layer_count, check_limit, quote, shorten
from ..validators import real
from . import releases
from .releases import RELEASES, keys_for, span_text
from .spec import GraphSpec, KerasFileError, LayerSpec, MergeSpec, ModelSpec, SequentialSpec

assert set(RECURRENT_LAYERS) <= set(LAYERS)

# 0.1.x spelled this activation separately; it is softmax over the last axis.
ACTIVATION_ALIASES = {"time_distributed_softmax": "softmax"}
# the activations of keras/activations.py from 0.1.0 to 0.3.3 (later releases' live in the same table)
KERAS0_ACTIVATIONS = frozenset({"linear", "sigmoid", "hard_sigmoid", "tanh", "relu", "softplus", "softmax"})

# Regularizers and constraints a layer that does not take them may still carry (hand-
# written or later configs): they change training only; a value other than "off" warns.
# A layer that took regularizers in 0.2.0 (`Regularized.regularizer_args`) builds them.
REGULARIZER_KEYS = {"W_regularizer", "b_regularizer", "U_regularizer", "activity_regularizer",
                    "W_constraint", "b_constraint", "U_constraint"}

ACCEPTED_KEYS = {name: accepted_keys(cls) for name, cls in LAYERS.items()}

MODEL_TYPES = ("Sequential", "Graph")
SEQUENTIAL_KEYS = ("name", "layers", "optimizer", "loss")
MERGE_KEYS = ("name", "layers", "mode", "concat_axis")
GRAPH_KEYS = ("name", "input_config", "node_config", "output_config", "input_order", "output_order", "nodes",
              "optimizer", "loss")
GRAPH_INPUT_KEYS = ("name", "input_shape", "dtype")
GRAPH_NODE_KEYS = ("name", "input", "inputs", "merge_mode", "concat_axis", "create_output")
GRAPH_OUTPUT_KEYS = ("name", "input", "inputs", "merge_mode", "concat_axis")
COMPILE_KEYS = ("optimizer", "loss", "class_mode")
# keys of the layer table that carry no argument of the reference layer
BASE_KEYS = ("trainable", "cache_enabled", "custom_name", "batch_input_shape")
NO_ARGUMENT_KEYS = ("go_backwards", "stateful", "dropout_W", "dropout_U", "dropout",
                    "W_regularizer", "U_regularizer", "b_regularizer")


def _boolean_keys(cls):
    """Constructor arguments of `cls` whose default is a bool (mask_zero, return_sequences):
    the one source of which config keys must hold a real boolean."""
    keys = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            keys |= {p.name for p in inspect.signature(init).parameters.values() if isinstance(p.default, bool)}
    return keys


# go_backwards, stateful and trainable are booleans in every Keras release that wrote them
BOOLEAN_KEYS = {name: frozenset(_boolean_keys(cls) | {"go_backwards", "stateful", "trainable"})
                for name, cls in LAYERS.items()}


def takes(cls, argument):
    """Whether the reference class `cls` has the constructor argument `argument` (a
    release's rule the reference computes); the rules not there yet are refused."""
    return any(argument in inspect.signature(k.__dict__["__init__"]).parameters
               for k in cls.__mro__ if "__init__" in k.__dict__)


# ---------------------------------------------------------------------------------------
# the layers of a config, walked once
# ---------------------------------------------------------------------------------------
def _layer_configs(config):
    """[(label, layer config)] of every layer the model config holds (Merge branches and
    Graph nodes included), for telling the release."""
    out = []

    def sequential(layers, prefix):
        for index, layer in enumerate(layers if isinstance(layers, list) else []):
            label = f"{prefix}layer {index}"
            if isinstance(layer, dict) and layer.get("name") == "Merge":
                for i, branch in enumerate(layer.get("layers") or []):
                    if isinstance(branch, dict) and branch.get("name") == "Merge":
                        sequential([branch], f"{label} (Merge) branch {i} ")
                    elif isinstance(branch, dict):
                        sequential(branch.get("layers"), f"{label} (Merge) branch {i}: ")
            elif isinstance(layer, dict):
                out.append((label, layer))

    if config.get("name") == "Graph":
        nodes = config.get("nodes")
        for name, layer in (nodes.items() if isinstance(nodes, dict) else ()):
            if isinstance(layer, dict):
                out.append((f"Graph node {quote(name)}", layer))
    else:
        sequential(config.get("layers"), "")
    return out


# ---------------------------------------------------------------------------------------
# which release wrote it
# ---------------------------------------------------------------------------------------
def candidates(config):
    """(releases whose files hold exactly these keys, releases whose files may hold every
    key present, {release: why it is excluded}: a key present where one excludes it)."""
    exact, present_ok, why, _ = _tell(config)
    return exact, present_ok, why


def _tell(config):
    """candidates(), plus the evidence: [(what, releases it excludes, by absence)]."""
    present_ok, exact, why, evidence, why_present = set(RELEASES), set(RELEASES), {}, [], {}

    def exclude(releases_out, text, what, by_absence=False):
        releases_out = set(releases_out)
        for r in releases_out:
            why.setdefault(r, text)
            if not by_absence:  # a key present: the reason a named release is refused
                why_present.setdefault(r, text)
        exact.difference_update(releases_out)
        if not by_absence:
            present_ok.difference_update(releases_out)
        if releases_out:
            evidence.append((what, frozenset(releases_out), by_absence))

    for key, k in keys_for("model").items():
        if key in config:
            exclude(set(RELEASES) - k.written, f"the config's top-level key {key}", key)
    for label, layer in _layer_configs(config):
        kind = layer.get("name")
        if isinstance(kind, str) and kind in releases.KINDS:
            exclude(set(RELEASES) - releases.KINDS[kind], f"{label}: layer type {kind}", f"layer {kind}")
        table = keys_for(kind) if isinstance(kind, str) else {}
        for key, k in table.items():
            if key in layer:
                exclude(set(RELEASES) - k.written, f"{label}: config key {key}", key)
            elif not (key == "input_dim" and layer.get("stateful")):  # 0.3.2+: stateful layers omit it
                exclude(k.always, f"{label}: no config key {key}", key, by_absence=True)
    return exact, present_ok, dict(why, **why_present), evidence


def _evidence(config, found):
    """The fewest keys that tell `found` from every other release, as the reason a model
    shows: 'config keys custom_name, trainable; without dropout_W' (greedy cover)."""
    _, _, _, evidence = _tell(config)
    todo = set(RELEASES) - set(found)
    chosen = []
    while todo:
        what, out, absent = max(evidence, key=lambda e: (len(e[1] & todo), not e[2]))
        if not out & todo:
            break
        chosen.append((what, absent))
        todo -= out
    present = sorted({w for w, a in chosen if not a})
    absent = sorted({w for w, a in chosen if a})
    parts = (["config keys " + ", ".join(present)] if present else []) + \
        (["without " + ", ".join(absent)] if absent else [])
    return "; ".join(parts) or "no config key only some releases write"


# ---------------------------------------------------------------------------------------
# config -> spec
# ---------------------------------------------------------------------------------------
def read_config(config, keras_version=None):
    """The ModelSpec of a Keras 0.x model config (a dict); `keras_version` names the
    release when the file does not tell it."""
    if not isinstance(config, dict):
        raise KerasFileError(f"a model config must be a mapping, got {type(config).__name__}")
    name = config.get("name")
    if name is None and "class_name" in config:
        raise KerasFileError(f"the config is a Keras 1.x/2.x model config (class_name {quote(config['class_name'])}); "
                             f"only files of Keras {RELEASES[0]} to {RELEASES[-1]} are read")
    if name is None:
        raise KerasFileError('the config does not name its model type (Keras 0.x writes "name": "Sequential" '
                             'or "Graph" at the top level)')
    if name not in MODEL_TYPES:
        raise KerasFileError(f"model type {quote(name)} is not supported; accepted: {', '.join(MODEL_TYPES)}")
    check_layer_count(config, KerasFileError)
    exact, present_ok, why = candidates(config)
    found = exact or present_ok
    if keras_version is not None:
        if keras_version not in RELEASES:
            raise KerasFileError(f"unknown Keras release {quote(keras_version)}; accepted: {', '.join(RELEASES)}")
        if keras_version not in present_ok:
            raise KerasFileError(f"the file was not written by Keras {keras_version}: {why[keras_version]} "
                                 f"(its keys fit Keras {span_text(found) or 'no release'})")
        found = {keras_version}
    if not found:
        raise KerasFileError("the config's keys fit no Keras release from 0.1.0 to 0.3.3 ("
                             + "; ".join(sorted(set(why.values()))[:3]) + ")")
    # translate under every candidate's rules: they must agree, or the file is refused
    translations = {}
    for release in sorted(found, key=RELEASES.index):
        try:
            translations[release] = _translate(config, release)
        except KerasFileError as exc:
            translations[release] = exc
    outcomes = list(translations.values())
    first = outcomes[0]
    if all(isinstance(o, KerasFileError) for o in outcomes):
        raise first  # no candidate reads it: the oldest one's sentence
    if len(outcomes) > 1 and not all(_same(first, o) for o in outcomes[1:]):
        raise KerasFileError(
            f"the config's keys fit Keras {span_text(found)}, whose rules compute different numbers for this "
            f"model; name the release that wrote it (keras_version=, --keras-version)")
    if isinstance(first, KerasFileError):
        raise first
    model, compile_settings, notes, warned = first
    release = span_text(found)
    if keras_version is not None:
        reason = "named by the caller"
    else:
        reason = _evidence(config, found)
        if not exact:
            notes.append(f"no Keras release writes exactly these config keys (edited by hand?); Keras "
                         f"{release} compute the same numbers for it")
        elif len(found) > 1:
            reason += f" (Keras {release} compute the same numbers for this model)"
    return ModelSpec(model=model, release=release, reason=reason,
                     candidates=tuple(sorted(found, key=RELEASES.index)), compile=compile_settings, notes=notes,
                     warnings=warned)


def _same(a, b):
    if isinstance(a, KerasFileError) or isinstance(b, KerasFileError):
        return isinstance(a, KerasFileError) and isinstance(b, KerasFileError) and str(a) == str(b)
    return a[0] == b[0]


def _masked(config):
    """Whether a mask can reach a layer of the model: some Embedding(mask_zero=True) or
    Masking layer (a conservative answer: a mask's exact path is not followed)."""
    return any(layer.get("name") == "Masking" or (layer.get("name") == "Embedding" and layer.get("mask_zero"))
               for _, layer in _layer_configs(config))


def _translate(config, release):
    """(SequentialSpec or GraphSpec, compile settings or None, notes) under `release`'s rules."""
    notes, warned = [], []
    context = {"release": release, "masked": _masked(config), "notes": notes, "warnings": warned}
    model_keys = keys_for("model")
    accepted = (GRAPH_KEYS if config["name"] == "Graph" else SEQUENTIAL_KEYS) + tuple(model_keys)
    unknown = [k for k in config if k not in accepted]
    if unknown:
        raise KerasFileError(f"the {config['name']} config has an unknown key {quote(unknown[0])}; "
                             f"accepted: {', '.join(accepted)}")
    ignored = sorted(k for k in config if k in model_keys)
    if ignored:
        notes.append("model keys without effect at inference: " + ", ".join(ignored))
    if config["name"] == "Graph":
        model = _graph(config, context)
    else:
        model = _sequential(config.get("layers"), context, "")
    compile_settings = None
    if "optimizer" in config:
        compile_settings = {k: config[k] for k in COMPILE_KEYS if k in config}
    return model, compile_settings, notes, warned


def _sequential(layers, context, prefix):
    if not isinstance(layers, list) or not layers:
        raise KerasFileError(f"{prefix}the config's 'layers' must be a non-empty list")
    specs = []
    for index, layer_config in enumerate(layers):
        label = f"{prefix}layer {index}"
        if index == 0 and isinstance(layer_config, dict) and layer_config.get("name") == "Merge":
            specs.append(_merge(layer_config, f"{label} (Merge)", context))
            continue
        specs.append(_layer(layer_config, label, context))
    return SequentialSpec(layers=specs)


def _merge(config, where, context):
    """A Merge's spec: branches are Sequential or Merge configs; its concat_axis is honoured
    (0.2.0's own loader dropped it)."""
    _checked_container("Merge", where, context)
    unknown = [k for k in config if k not in MERGE_KEYS + BASE_KEYS]
    if unknown:
        raise KerasFileError(f"{where}: unknown config key {quote(unknown[0])}; Merge accepts: {', '.join(MERGE_KEYS)}")
    branches = config.get("layers")
    if not isinstance(branches, list):
        raise KerasFileError(f"{where}: 'layers' must be a list of branch configs, got {quote(branches)}")
    check_limit(len(branches), "branches", where, "the number of branches", KerasFileError)
    specs = []
    for i, branch in enumerate(branches):
        here = f"{where} branch {i}"
        kind = branch.get("name") if isinstance(branch, dict) else None
        try:
            if kind == "Merge":
                specs.append(_merge(branch, here, context))
            elif kind == "Sequential":
                specs.append(_sequential(branch.get("layers"), context, f"{here}: "))
            else:
                raise KerasFileError(f"a branch must be a Sequential or a Merge config, got {quote(kind)}")
        except KerasFileError as exc:
            raise KerasFileError(exc if str(exc).startswith(here) else f"{here}: {exc}") from None
    return MergeSpec(branches=specs, mode=config.get("mode", "sum"), concat_axis=config.get("concat_axis", -1),
                     label=where)


def _entries(config, key, accepted):
    """config[key]: a list of mappings holding only `accepted` keys and a string name."""
    entries = config.get(key)
    if not isinstance(entries, list):
        raise KerasFileError(f"the Graph config's {key!r} must be a list, got {quote(entries)}")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise KerasFileError(f"the Graph config's {key}[{i}] must be a mapping with a 'name', got {quote(entry)}")
        unknown = [k for k in entry if k not in accepted]
        if unknown:
            raise KerasFileError(f"the Graph config's {key} entry {quote(entry['name'])}: unknown key "
                                 f"{quote(unknown[0])}; accepted: {', '.join(accepted)}")
    return entries


def _graph_order_check(node_config):
    """A node fed by a node added after it: a cycle (named) or an order Keras cannot build."""
    position = {entry["name"]: i for i, entry in enumerate(node_config)}
    feeds = {entry["name"]: [n for n in ([entry.get("input")] + list(entry.get("inputs") or []))
                             if isinstance(n, str) and n in position] for entry in node_config}
    for i, entry in enumerate(node_config):
        for n in feeds[entry["name"]]:
            if position[n] < i:
                continue
            seen = {entry["name"], n}  # follow n's feeds back to entry?
            stack = [(n, [entry["name"], n])]
            while stack:
                cur, path = stack.pop()
                for nxt in feeds[cur]:
                    if nxt == entry["name"]:
                        raise KerasFileError(f"the Graph config has a cycle: {' -> '.join(reversed(path + [nxt]))}"
                                             " (each node must be fed by inputs or nodes added before it)")
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append((nxt, path + [nxt]))
            raise KerasFileError(f"Graph node {quote(entry['name'])} is fed by node {quote(n)}, which node_config "
                                 "adds after it; a node may only use inputs and nodes added before it")


def _checked_container(kind, where, context):
    if context["release"] in releases.span("0.3.0"):
        raise KerasFileError(f"{where}: a Keras 0.3.x {kind} is not read (its computation was not "
                             "checked against 0.3.x's); refused rather than computing 0.2.0's numbers")


def _graph(config, context):
    _checked_container("Graph", "the Graph config", context)
    inputs = _entries(config, "input_config", GRAPH_INPUT_KEYS)
    node_config = _entries(config, "node_config", GRAPH_NODE_KEYS)
    outputs = _entries(config, "output_config", GRAPH_OUTPUT_KEYS)
    nodes = config.get("nodes")
    if not isinstance(nodes, dict):
        raise KerasFileError(f"the Graph config's 'nodes' must map node names to layer configs, got {quote(nodes)}")
    names = [e["name"] for e in inputs + node_config]
    seen = set()
    twice = [n for n in names if n in seen or seen.add(n)]
    if twice:
        raise KerasFileError(f"the Graph config has a duplicate name {quote(twice[0])}: each input and node needs its own")
    added = {e["name"] for e in node_config}
    extra = [k for k in nodes if k not in added]
    if extra:
        raise KerasFileError(f"the Graph config's 'nodes' holds {quote(extra[0])}, which node_config does not add")
    for entry in node_config + outputs:  # a merge of its inputs: as many as a Merge's branches
        if isinstance(entry.get("inputs"), list):
            check_limit(len(entry["inputs"]), "branches", f"Graph entry {quote(entry['name'])}",
                        "the number of inputs", KerasFileError)
    _graph_order_check(node_config)
    node_specs = []
    for entry in node_config:
        label = f"Graph node {quote(entry['name'])}"
        if entry["name"] not in nodes:
            raise KerasFileError(f"{label}: its layer config is missing from 'nodes'")
        node_specs.append((entry, _layer(nodes[entry["name"]], label, context)))
    orders = {key: config[key] for key in ("input_order", "output_order") if key in config}
    return GraphSpec(inputs=inputs, nodes=node_specs, outputs=outputs, orders=orders)


# ---------------------------------------------------------------------------------------
# one layer
# ---------------------------------------------------------------------------------------
def _shape(value, where):
    if not isinstance(value, (list, tuple)) or not value:
        raise KerasFileError(f"{where}: input_shape must be a non-empty list, got {quote(value)}")
    out = []
    for v in value:
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise KerasFileError(f"{where}: input_shape entries must be positive integers or null, got {quote(value)}")
        out.append(v)
    return tuple(out)


def _int_or_none(value, key, where):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise KerasFileError(f"{where}: {key} must be a positive integer or null, got {quote(value)}")
    return value


def _layer(config, label, context):
    """The LayerSpec of one layer config under context["release"]'s rules."""
    if not isinstance(config, dict):
        raise KerasFileError(f"{label}: a layer config must be a mapping, got {type(config).__name__}")
    name = config.get("name")
    if not isinstance(name, str):
        raise KerasFileError(f"{label}: the layer type ('name') must be a string such as \"LSTM\", "
                             f"got {type(name).__name__} {quote(name)}")
    where = f"{label} ({shorten(name, 60)})"
    if name == "TimeDistributed":
        return _time_distributed(config, label, where, context)
    if name in ("Sequential", "Graph", "Merge", "AutoEncoder"):
        raise KerasFileError(f"{where}: a {name} container is not supported here (a Merge only as a "
                             f"Sequential's first layer); layers accepted: {accepted_names()}")
    if name not in LAYERS:
        raise KerasFileError(f"{where}: unknown layer type {quote(name)}; accepted: {accepted_names()}")
    cls = LAYERS[name]
    accepted = ACCEPTED_KEYS[name]
    table = keys_for(name)
    release = context["release"]
    if release in releases.span("0.3.0") and name not in releases.CHECKED_IN_0_3:
        raise KerasFileError(f"{where}: a Keras 0.3.x {name} layer is not read (only "
                             f"{', '.join(sorted(releases.CHECKED_IN_0_3))} were checked against 0.3.x's "
                             "computation); refused rather than computing 0.2.0's numbers")
    kwargs, weights, without_effect = {}, None, []
    for key, value in config.items():
        if key in BOOLEAN_KEYS[name] and not isinstance(value, bool) \
                and not (value is None and key not in accepted):  # null: "off" for keys the layer lacks
            raise KerasFileError(f"{where}: {key} must be true or false, got {type(value).__name__} {quote(value)}")
        if key == "name":
            continue
        if key in table and (key in NO_ARGUMENT_KEYS or key in BASE_KEYS) and key not in accepted:
            if not table[key].has_effect:
                without_effect.append(key)
            continue
        if key in getattr(cls, "regularizer_args", ()):
            kwargs[key] = value  # the layer builds it (regularizers.get / constraints.get)
            continue
        if key in REGULARIZER_KEYS:
            if value not in (None, {}, 0):
                warnings.warn(f"{where}: {quote(key)}={quote(value)} is ignored; it only affects training",
                              RuntimeWarning, stacklevel=5)
            without_effect.append(key)
            continue
        if key == "parameters":  # inline weights written by some 0.1.x development versions
            weights = _inline_parameters(value, where)
            continue
        if key not in accepted:
            extra = sorted(set(table) - set(accepted))
            raise KerasFileError(f"{where}: unknown config key {quote(key)}; {name} accepts: "
                                 f"{', '.join(tuple(accepted) + tuple(extra))}")
        kwargs[key] = value
    if without_effect:
        context["notes"].append(f"{where}: keys without effect at inference: {', '.join(sorted(without_effect))}")
    if config.get("trainable") is False:
        context["notes"].append(f"{where}: trainable=False is kept for inference only (every weight is trained here)")
    if "batch_input_shape" in config:
        shape = _shape(config["batch_input_shape"], where)
        if len(shape) < 2:
            raise KerasFileError(f"{where}: batch_input_shape must hold the batch axis and the sample's, got {quote(shape)}")
        kwargs.setdefault("input_shape", shape[1:])

    for key in ("activation", "inner_activation"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = ACTIVATION_ALIASES.get(kwargs[key], kwargs[key])
            if kwargs[key] not in KERAS0_ACTIVATIONS:  # the reference reads later releases' names too
                raise KerasFileError(f"{where}: unknown activation {quote(kwargs[key])}; accepted: "
                                     f"{', '.join(sorted(KERAS0_ACTIVATIONS))}")
            try:
                activations.get(kwargs[key])
            except ConfigError as exc:
                raise KerasFileError(f"{where}: {shorten(exc, 300)}") from None
        elif key in kwargs and kwargs[key] is not None:
            raise KerasFileError(f"{where}: {key} must be a name, got {quote(kwargs[key])}")
    for key in ("init", "inner_init", "forget_bias_init"):
        if key in kwargs and not isinstance(kwargs[key], str):
            raise KerasFileError(f"{where}: {key} must be a name, got {quote(kwargs[key])}")
    if "input_shape" in kwargs:
        kwargs["input_shape"] = _shape(kwargs["input_shape"], where)
    for key in ("input_dim", "input_length", "output_dim"):
        if key in kwargs:
            kwargs[key] = _int_or_none(kwargs[key], key, where)

    spec = LayerSpec(kind=name, arguments=kwargs, label=label, inline_weights=weights)
    if cls is Embedding:
        kwargs.pop("input_shape", None)  # 0.2.0 wrote (vocab,) here; the layer sets its own
        if kwargs.get("input_dim") is None:
            raise KerasFileError(f"{where}: input_dim (the vocabulary size) is missing")
        if "mask_zero" not in config and release in releases.span("0.1.2", "0.1.3"):
            context["warnings"].append(f"{where}: Keras 0.1.x did not write mask_zero; loaded unmasked, as "
                                    "Keras reloads the file")
        _probability(config, "dropout", where)
        if config.get("dropout"):  # 0.3.3 multiplies the embedding rows by 1 - dropout at inference
            spec.weight_scales = {"E": 1.0 - config["dropout"]}
            context["notes"].append(f"{where}: dropout={config['dropout']} read as its weights scaled by "
                                    f"{1.0 - config['dropout']:g}, as Keras {release} predicts")
    elif cls is Dropout and release in releases.span("0.3.0"):
        # 0.3.x's Dropout is inverted (scaled in training): the identity at inference
        if kwargs.get("p"):
            context["notes"].append(f"{where}: Keras {release}'s Dropout(p={kwargs['p']}) is the identity at "
                                    "inference; read as Dropout(p=0)")
        kwargs["p"] = 0.0
    elif cls is Activation:
        kwargs.pop("target", None), kwargs.pop("beta", None)  # unused by 0.2.0's forward pass
    elif cls is TimeDistributedDense:
        length = kwargs.get("input_length")
        if kwargs.get("input_dim") is not None:
            kwargs["input_shape"] = (length, kwargs["input_dim"])
    elif cls is Dense:
        if kwargs.get("input_dim") is not None:
            kwargs["input_shape"] = (kwargs["input_dim"],)
    elif issubclass(cls, Recurrent):
        if kwargs.get("input_dim") is not None:  # 0.2.0: input_dim overrides input_shape
            kwargs.pop("input_shape", None)
        if cls is SimpleRNN:
            kwargs.pop("inner_activation", None)
        _recurrent_rules(cls, config, spec, where, context)
    if "output_dim" in accepted and kwargs.get("output_dim") is None:
        raise KerasFileError(f"{where}: output_dim is missing")
    return spec


def _time_distributed(config, label, where, context):
    """0.3.3's TimeDistributed(Dense): the same numbers, weights and mask passing as
    TimeDistributedDense (its own docstring says so); any other wrapped layer is refused."""
    table = keys_for("TimeDistributed")
    unknown = [k for k in config if k not in ("name",) + tuple(table)]
    if unknown:
        raise KerasFileError(f"{where}: unknown config key {quote(unknown[0])}; TimeDistributed accepts: "
                             f"name, {', '.join(table)}")
    inner = config.get("layer")
    kind = inner.get("name") if isinstance(inner, dict) else None
    if kind != "Dense":
        raise KerasFileError(f"{where}: it wraps {quote(kind)}; only a wrapped Dense is read (as "
                             "TimeDistributedDense)")
    inner = dict(inner, name="TimeDistributedDense")
    step_shape = inner.pop("input_shape", None)
    outer_shape = config.get("input_shape", config.get("batch_input_shape", [None] * 3)[1:])
    if step_shape is not None or config.get("input_shape") is not None:
        step = _shape(step_shape, where) if step_shape is not None else (None,)
        outer = _shape(outer_shape, where) if config.get("input_shape") or config.get("batch_input_shape") else None
        inner["input_shape"] = list(outer) if outer else [None] + list(step)
    spec = _layer(inner, label, context)
    without_effect = sorted(k for k in config if k in table and not table[k].has_effect)
    if without_effect:
        context["notes"].append(f"{where}: keys without effect at inference: {', '.join(without_effect)}")
    context["notes"].append(f"{where}: TimeDistributed(Dense) read as TimeDistributedDense (the same numbers)")
    return spec


def _probability(config, key, where):
    if key in config:
        real(config[key], where, key, 0.0, 1.0, KerasFileError)


def _recurrent_rules(cls, config, spec, where, context):
    """`release`'s rules for a recurrent layer, as the reference's constructor arguments:
    its defaults, its mask rule, its cell bugs, go_backwards/stateful; a rule the reference
    does not compute is refused with the reason."""
    release, kwargs, kind = context["release"], spec.arguments, spec.kind
    rules = releases.rules(kind, release)
    kwargs.setdefault("activation", releases.default_activation(kind, release))
    if cls is not SimpleRNN:
        kwargs.setdefault("inner_activation", releases.default_inner_activation(kind, release))
    for key in ("dropout_W", "dropout_U"):
        _probability(config, key, where)

    def need(argument, value, what):
        if not takes(cls, argument):
            raise KerasFileError(f"{where}: {what} is not computed by this reference yet; refused rather than "
                                 "computing other numbers")
        kwargs[argument] = value

    if rules.combine != "add":
        need("combine", rules.combine, f"Keras {release}'s SimpleRNN cell (activation((x·W + b) * (h·U)))")
    if rules.candidate_is_inner:  # 0.3.0's GRU computed its candidate with inner_activation
        kwargs["activation"] = kwargs["inner_activation"]
    if context["masked"] and rules.mask_rule != "reset":
        need("mask_rule", rules.mask_rule, f"Keras {release}'s mask rule ({releases.MASK_RULE_TEXT[rules.mask_rule]})")
    if config.get("go_backwards"):
        need("go_backwards", True, "go_backwards=True")
    if config.get("stateful"):
        need("stateful", True, "stateful=True")
    if not rules.saves_projection:
        spec.file_omits = ("P",)
        spec.derived_weights = {"P": "identity"}
        d, k = kwargs.get("input_dim"), kwargs.get("output_dim")
        if d is not None and d != k:
            raise KerasFileError(f"{where}: Keras 0.1.x did not save {kind}'s fixed projection P, a random "
                                 f"matrix when the input size ({d}) differs from the output size ({k}): its values "
                                 "are lost")


def _inline_parameters(value, where):
    import numpy as np

    if not isinstance(value, list):
        raise KerasFileError(f"{where}: 'parameters' must be a list of {{data, shape}} entries")
    arrays = []
    for j, entry in enumerate(value):
        try:
            shape = _shape(entry["shape"], f"{where}: parameter {j}") if entry["shape"] else ()
            data = np.asarray(entry["data"], dtype=np.float64)
            if data.size != int(np.prod(shape)):
                raise KerasFileError(f"{where}: parameter {j} has {data.size} values for shape {shape}")
            arrays.append(data.reshape(shape))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, KerasFileError):
                raise
            raise KerasFileError(f"{where}: parameter {j} is malformed ({shorten(exc, 160)})") from None
    return arrays
