"""The one registry of layer classes, by Keras 0.2.0 class name.

Every layer class registers itself here (`@register_layer`). Files (which `"name"` a
config may hold and which keys it may carry), the ONNX emitters, the conformance matrix
and the tests derive their lists from `LAYERS`; nothing else lists layer types.
"""
from .errors import ConfigError
from .untrusted import quote

#: class name -> class, in registration order
LAYERS = {}


def register_layer(cls):
    if cls.__name__ in LAYERS:
        raise ValueError(f"layer class {cls.__name__} registered twice")
    LAYERS[cls.__name__] = cls
    return cls


def accepted_names():
    return ", ".join(sorted(LAYERS))


def layer_class(name):
    """The registered class called `name`, or a ConfigError listing the accepted ones."""
    if name not in LAYERS:
        raise ConfigError(f"unknown layer type {quote(name)}; accepted: {accepted_names()}")
    return LAYERS[name]


def accepted_keys(cls):
    """Config keys a file may give for `cls`: what its get_config writes, `input_shape`,
    and keys 0.2.0 wrote that do not change the computation (`config_keys_ignored`)."""
    return tuple(cls.config_keys) + ("input_shape",) + tuple(getattr(cls, "config_keys_ignored", ()))


def from_table(table, what, identifier, where):
    """An object from `table` (name -> constructor) for a name, a {"name": …, settings}
    mapping or None (regularizers, constraints: the names a config may hold)."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        settings = dict(identifier)
        name = settings.pop("name", None)
    elif isinstance(identifier, str):
        name, settings = identifier, {}
    else:
        raise ConfigError(f"{where}: a {what} is a name or a {{\"name\": …}} mapping, got {quote(identifier)}; "
                          f"accepted names: {', '.join(table)}")
    if not isinstance(name, str) or name not in table:
        raise ConfigError(f"{where}: unknown {what} {quote(name)}; accepted: {', '.join(table)}")
    try:
        return table[name](**settings)
    except TypeError:
        raise ConfigError(f"{where}: {what} {name} does not take the settings {quote(sorted(settings))}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
