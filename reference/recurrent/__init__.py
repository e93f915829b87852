from .base import NumpyOps, Recurrent
from .gated import GRU, JZS1, JZS2, JZS3, GatedRecurrent
from .lstm import LSTM
from .simple import SimpleDeepRNN, SimpleRNN
from .bidirectional import Bidirectional  # after the cells it wraps (registration order)

RECURRENT_LAYERS = {cls.__name__: cls for cls in (SimpleRNN, SimpleDeepRNN, GRU, LSTM, JZS1, JZS2, JZS3)}
