"""An exact NumPy reference of the Keras 0.2.0 recurrent layers and Sequential model."""
from .errors import ConfigError, InputError
from .layers import Activation, Dense, Dropout, Embedding, Layer, Masking, TimeDistributedDense
from .models import Sequential
from .recurrent import GRU, JZS1, JZS2, JZS3, LSTM, RECURRENT_LAYERS, Recurrent, SimpleDeepRNN, SimpleRNN

__all__ = [
    "Sequential", "Embedding", "Masking", "Dense", "TimeDistributedDense", "Activation", "Dropout",
    "SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3",
    "Layer", "Recurrent", "RECURRENT_LAYERS", "ConfigError", "InputError",
]
