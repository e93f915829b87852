"""reference/untrusted.py: bounded quoting and config parsers with limits."""
import time

import pytest
import yaml

from reference.untrusted import (MAX_DEPTH, QUOTE_LIMIT, ConfigLimitError, parse_json, parse_yaml, quote,
                                 shorten)


def test_quote_is_short_and_does_not_walk_what_it_does_not_show():
    assert quote("LSTM") == "'LSTM'"
    assert len(quote("x" * 5_000_000)) <= QUOTE_LIMIT and quote("x" * 5_000_000).endswith("…")
    bomb = ["x"]
    for _ in range(40):  # 2**40 leaves if walked
        bomb = [bomb, bomb]
    start = time.perf_counter()
    assert len(quote(bomb)) <= QUOTE_LIMIT
    assert time.perf_counter() - start < 0.1
    assert shorten("a\n  b") == "a b"


def test_json_depth_and_size_limits():
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(ConfigLimitError, match="nests deeper"):
        parse_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(ConfigLimitError, match="nests deeper"):
        parse_json("[" * 200_000 + "]" * 200_000)


def test_yaml_aliases_expansion_and_recursion_limits():
    assert parse_yaml("a: &a [1, 2]\nb: *a\n") == {"a": [1, 2], "b": [1, 2]}
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 7))
    with pytest.raises(ConfigLimitError, match="aliases expand"):
        parse_yaml(bomb)
    with pytest.raises(ConfigLimitError, match="contains it"):
        parse_yaml("a: &a [1, *a]\n")
    with pytest.raises(ConfigLimitError, match="nests deeper"):
        parse_yaml("[" * 100_000 + "]" * 100_000)
    with pytest.raises(yaml.constructor.ConstructorError):
        parse_yaml("!!python/object/apply:os.system [echo]")
