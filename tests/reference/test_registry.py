"""The one layer registry: every public layer class is in it, and it is what files accept."""
import pytest

import reference
from reference import registry
from reference.keras_files import keras0
from reference.errors import ConfigError
from reference.layers import Layer


def test_every_public_layer_class_is_registered_once():
    public = {name for name in reference.__all__
              if isinstance(getattr(reference, name), type) and issubclass(getattr(reference, name), Layer)
              and name not in ("Layer", "Recurrent", "Merge")}
    assert public == set(registry.LAYERS)


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        registry.register_layer(reference.LSTM)


def test_unknown_name_lists_the_accepted_ones():
    with pytest.raises(ConfigError) as info:
        registry.layer_class("Convolution3D")
    for name in registry.LAYERS:
        assert name in str(info.value)


def test_files_accept_exactly_the_registry():
    assert set(keras0.ACCEPTED_KEYS) == set(registry.LAYERS)
