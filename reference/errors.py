"""Errors raised for bad configurations and bad input (never a bare NumPy traceback)."""


class ConfigError(ValueError):
    """A layer, model or file asks for something that does not exist or does not fit."""


class InputError(ValueError):
    """Data handed to a model has the wrong rank, width, dtype or range."""
