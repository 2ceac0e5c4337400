"""YAML loading (PyYAML safe_load semantics) that remembers the line of every mapping key."""
from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict):
    """A dict from YAML that knows the 1-based line of each key (`lines`) and of itself (`line`)."""

    lines: dict[Any, int]
    line: int


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings are LineDicts."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        mapping = LineDict(super().construct_mapping(node, deep=deep))
        mapping.lines = {
            self.construct_object(key_node, deep=True): key_node.start_mark.line + 1
            for key_node, _ in node.value
            if isinstance(key_node, yaml.ScalarNode)
        }
        mapping.line = node.start_mark.line + 1
        return mapping


    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:  # type: ignore[override]
        """A date such as 2026-13-45 stays text, so the caller can say it is not a date."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _LineLoader.construct_yaml_timestamp)


def load_yaml(text: str, first_line: int = 1) -> Any:
    """Parse YAML safely; raises ValueError('line N: ...') with a line relative to the file."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlSyntaxError(line, f"malformed YAML: {problem}") from None
    if first_line != 1:
        _shift(data, first_line - 1)
    return data


class YamlSyntaxError(ValueError):
    """A YAML document that does not parse; carries the file line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _shift(data: Any, offset: int) -> None:
    if isinstance(data, LineDict):
        data.line += offset
        data.lines = {k: v + offset for k, v in data.lines.items()}
        for value in data.values():
            _shift(value, offset)
    elif isinstance(data, list):
        for value in data:
            _shift(value, offset)


def line_of(mapping: Any, key: str, default: int = 1) -> int:
    """The line of `key` in a LineDict, else of the mapping, else `default`."""
    if isinstance(mapping, LineDict):
        return mapping.lines.get(key, mapping.line)
    return default
