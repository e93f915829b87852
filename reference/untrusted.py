"""Reading what a stranger wrote: bounded quoting, and config parsers with limits.

- `printable(text)`: the one way a string from a file reaches a terminal (escaped
  control characters, bounded); `table(rows)` formats names into bounded columns.
- `quote(value)`: the one formatter for a value taken from a file (or any caller) into
  an error message: a bounded repr, never longer than QUOTE_LIMIT characters, that never
  walks more of a nested value than it shows (a 5-million-character name or an alias
  bomb costs microseconds).
- `parse_json(text)`, `parse_yaml(text, loader)`: a config's text to plain Python
  values, refusing texts over MAX_CONFIG_CHARS, nesting deeper than MAX_DEPTH and YAML
  aliases that expand to more than MAX_ALIAS_EXPANSION values beyond the document's own.
"""
import json
import re
import reprlib

import numpy as np
import yaml

from .errors import ConfigError

QUOTE_LIMIT = 80
CELL_LIMIT = 60                 # a table cell (a name in a summary); Keras's own names are ~25 characters
MAX_CONFIG_CHARS = 64 << 20     # a Keras 0.2.0 config is kilobytes; inline weights of 0.1.x a few MB
MAX_DEPTH = 64                  # Keras configs nest a handful of levels
MAX_ALIAS_EXPANSION = 100_000   # values aliases may add to a YAML document, counted expanded

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxother = 3, 30, QUOTE_LIMIT
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlong = 40


def printable(text, limit=None):
    """`text` as it may reach a terminal: every character that is not printable (ESC and
    the other control characters that make escape sequences, line breaks, bidirectional
    overrides) shown as its escape (`\\x1b`, `\\n`, `\\u202e`), cut to `limit` characters
    with a trailing '…'. Every string from a file that is printed passes through here."""
    text = str(text)
    if limit is not None and len(text) > 4 * limit:  # do not escape a huge string just to cut it
        text = text[:4 * limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"


def shorten(text, limit=QUOTE_LIMIT):
    """`text` on one line (runs of white space as one space), printable, cut to `limit`
    characters with a trailing '…'."""
    text = str(text)
    if len(text) > 4 * limit:  # do not split a huge string just to cut it
        text = text[:4 * limit]
    return printable(" ".join(text.split()), limit)


def table(rows, cell_limit=CELL_LIMIT):
    """The lines of a left-aligned text table (a dashed line under the first row): each
    cell printable and at most `cell_limit` characters, so one long name widens its column
    by no more than that."""
    cells = [[printable(cell, cell_limit) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return lines


def quote(value, limit=QUOTE_LIMIT):
    """A short repr of `value` for an error message: at most `limit` characters, a long
    string shown as its prefix and '…'."""
    if isinstance(value, str) and len(value) > limit:
        return shorten(repr(value[:limit]), limit)
    return shorten(_repr.repr(value), limit)


class ConfigLimitError(ConfigError):
    """A config text is too large, too deeply nested, or expands too far."""


def _check_size(text):
    if len(text) > MAX_CONFIG_CHARS:
        raise ConfigLimitError(f"the config is {len(text)} characters long, more than the {MAX_CONFIG_CHARS} "
                               "accepted; a Keras model config is far smaller")


def _check_depth(value):
    """Iteratively (no recursion), each shared container once."""
    seen, stack = set(), [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (list, tuple, dict)) or id(item) in seen:
            continue
        if depth > MAX_DEPTH:
            raise ConfigLimitError(f"the config nests deeper than {MAX_DEPTH} levels; a Keras model config "
                                   "nests a few levels")
        seen.add(id(item))
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)


def _check_bracket_depth(text):
    """Refuse bracket nesting deeper than MAX_DEPTH before a parser recurses into it
    (PyYAML takes minutes to fail on 200,000 '['). Brackets inside quoted strings count
    too: a Keras config has none there."""
    brackets = np.frombuffer(re.sub(r"[^\[\]{}]", "", text).encode("ascii"), dtype=np.uint8)
    if brackets.size:
        steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
        if int(np.cumsum(steps).max()) > MAX_DEPTH:
            raise _too_deep()


def _too_deep():
    return ConfigLimitError(f"the config nests deeper than {MAX_DEPTH} levels; a Keras model config nests a few levels")


def parse_json(text):
    """JSON text -> Python values, within the limits above."""
    _check_size(text)
    _check_bracket_depth(text)
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    _check_depth(value)
    return value


class BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing documents whose aliases expand past
    MAX_ALIAS_EXPANSION values (the "billion laughs") or that refer to themselves, and
    nesting deeper than MAX_DEPTH. Checked on the composed node graph, before any value
    is constructed."""

    def compose_document(self):
        node = super().compose_document()
        _check_nodes(node)
        return node


def _check_nodes(root):
    """Count the values of the node graph as construction would expand them."""
    own, expanded = set(), {}
    # iterative post-order: (node, depth, children done?)
    stack, on_path = [(root, 1, False)], set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            expanded[key] = 1 + sum(expanded[id(c)] for c in children)
            if expanded[key] - len(own) > MAX_ALIAS_EXPANSION:
                raise ConfigLimitError(f"the YAML config's aliases expand to more than {MAX_ALIAS_EXPANSION} "
                                       "values; refused (a config needs no aliases)")
            continue
        if key in expanded:
            continue
        if key in on_path:
            raise ConfigLimitError("the YAML config holds an alias to a value that contains it; refused")
        if depth > MAX_DEPTH:
            raise _too_deep()
        own.add(key)
        on_path.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in _children(node))


def _children(node):
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [x for pair in node.value for x in pair]
    return ()


def parse_yaml(text, loader=BoundedSafeLoader):
    """YAML text -> Python values with `loader` (a BoundedSafeLoader subclass)."""
    _check_size(text)
    _check_bracket_depth(text)
    try:
        return yaml.load(text, Loader=loader)
    except RecursionError:
        raise _too_deep() from None
