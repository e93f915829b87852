"""An exact NumPy reference of the Keras 0.2.0 recurrent layers and Sequential model."""
from .errors import ConfigError, InputError
from .layers import (ActivityRegularization, Activation, Dense, Dropout, Embedding, Flatten, Layer, Masking,
                     MaxoutDense, Permute, RepeatVector, Reshape, TimeDistributedDense, TimeDistributedMerge)
from .normalization import BatchNormalization
from .convolutional import AveragePooling1D, Convolution1D, Cropping1D, MaxPooling1D, UpSampling1D, ZeroPadding1D
from . import constraints, regularizers
from .noise import GaussianDropout, GaussianNoise
from .advanced_activations import (ELU, LeakyReLU, ParametricSoftplus, PReLU, ReLU, Softmax, ThresholdedLinear,
                                   ThresholdedReLU)
from .models import Sequential
from .recurrent import Bidirectional, GRU, JZS1, JZS2, JZS3, LSTM, RECURRENT_LAYERS, Recurrent, SimpleDeepRNN, SimpleRNN
from . import callbacks, losses, optimizers
from .callbacks import Callback, History
from .optimizers import SGD, Adadelta, Adagrad, Adam, Optimizer, RMSprop
from .training import NonFiniteLossError, TrainingError

__all__ = [
    "Sequential", "Embedding", "Masking", "Dense", "TimeDistributedDense", "Activation", "Dropout",
    "SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3", "Bidirectional",
    "Layer", "Recurrent", "RECURRENT_LAYERS", "ConfigError", "InputError",
    "losses", "optimizers", "callbacks", "Callback", "History",
    "Optimizer", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "TrainingError", "NonFiniteLossError",
]
__all__ += ["BatchNormalization", "Convolution1D", "MaxPooling1D", "ActivityRegularization",
            "regularizers", "constraints"]
from .containers import Graph, Merge
from .functional import FunctionalModel
from .merging import MergeLayer
from .keras_files import KerasFileError
from .build import load_model, model_from_config, model_from_json, model_from_yaml

LegacyFileError = KerasFileError  # the name callers written before the readers package use

__all__ += ["FunctionalModel", "MergeLayer"]
__all__ += ["Graph", "Merge", "model_from_json", "model_from_yaml", "model_from_config", "load_model",
            "KerasFileError", "LegacyFileError"]
__all__ += ["RepeatVector", "Reshape", "Permute", "Flatten", "TimeDistributedMerge", "MaxoutDense",
            "GaussianNoise", "GaussianDropout", "LeakyReLU", "PReLU", "ParametricSoftplus", "ThresholdedLinear",
            "ThresholdedReLU"]
__all__ += ["ELU", "ReLU", "Softmax", "AveragePooling1D", "ZeroPadding1D", "Cropping1D", "UpSampling1D"]  # Keras 1.x/2.x layers (reference/keras_files/layers12.py)
