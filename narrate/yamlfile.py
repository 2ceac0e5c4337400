"""YAML loading (PyYAML safe_load semantics) that remembers the line of every mapping key.

Hostile documents fail with a line number instead of hanging: aliases may expand to at most
`MAX_ALIASED` values (a "billion laughs" document is refused while it is being read), an alias may not
refer to the node that contains it, values nest at most `MAX_DEPTH` deep, integers have at most `MAX_DIGITS` digits, and text may not hold
control characters (YAML escapes such as "\\x07" would otherwise smuggle them into feeds and captions).
"""
from __future__ import annotations

import re
from typing import Any

import yaml

MAX_ALIASED = 10_000
MAX_DEPTH = 50  # nesting; PyYAML composes recursively, so thousands of '[' would be a RecursionError
MAX_DIGITS = 30


class LineDict(dict):
    """A dict from YAML that knows the 1-based line of each key (`lines`) and of itself (`line`)."""

    lines: dict[Any, int]
    line: int


class YamlSyntaxError(ValueError):
    """A YAML document that does not parse; carries the file line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# Unicode's control characters (category Cc) except tab, line feed and carriage return.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character(text: str) -> str | None:
    """The first control character in `text` other than tab, line feed and carriage return, if any."""
    match = CONTROL.search(text)
    return match.group() if match else None


def control_problems(text: str, shown: str, first_line: int = 1, limit: int = 5) -> list[str]:
    """One `file:line: message` per line of `text` holding a control character (the first `limit` lines)."""
    found: list[str] = []
    lines = 0
    for number, line in enumerate(text.split("\n"), start=first_line):
        char = control_character(line)
        if char is None:
            continue
        lines += 1
        if len(found) < limit:
            found.append(f"{shown}:{number}: control character U+{ord(char):04X} in the text "
                         "(remove it; tabs and line breaks are fine)")
    if lines > limit:
        found.append(f"{shown}: {lines - limit} more lines hold control characters")
    return found


class _Checks(yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """Composing and constructing as SafeLoader does, but mappings are LineDicts (lines counted from
    `first_line` of the file) and the limits above hold. Events come from a parser class mixed in."""

    def __init__(self, first_line: int = 1) -> None:
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._first_line = first_line
        self._sizes: dict[int, int] = {}  # id(node) -> values in it once its aliases are expanded
        self._aliased = 0
        self._depth = 0

    def _file_line(self, mark: yaml.Mark) -> int:
        return self._first_line + mark.line

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:
                raise YamlSyntaxError(self._file_line(event.start_mark),
                                      f"alias *{event.anchor} refers to a value that contains it")
            self._aliased += size
            if self._aliased > MAX_ALIASED:
                raise YamlSyntaxError(self._file_line(event.start_mark),
                                      f"aliases (*name) expand to more than {MAX_ALIASED} values")
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlSyntaxError(self._file_line(self.peek_event().start_mark),
                                  f"values nested more than {MAX_DEPTH} deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        self._sizes[id(node)] = 1 + sum(self._sizes[id(child)] for child in children)
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:  # type: ignore[override]
        mapping = LineDict(super().construct_mapping(node, deep=deep))
        mapping.lines = {
            self.construct_object(key_node, deep=True): self._file_line(key_node.start_mark)
            for key_node, _ in node.value
            if isinstance(key_node, yaml.ScalarNode)
        }
        mapping.line = self._file_line(node.start_mark)
        return mapping

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:  # type: ignore[override]
        """A date such as 2026-13-45 stays text, so the caller can say it is not a date."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:  # type: ignore[override]
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_DIGITS:
            # Python refuses to read integers of over 4300 digits, and no setting needs 31.
            raise YamlSyntaxError(self._file_line(node.start_mark), f"number with {digits} digits is too large")
        return super().construct_yaml_int(node)

    def construct_yaml_str(self, node: yaml.ScalarNode) -> str:  # type: ignore[override]
        value = super().construct_yaml_str(node)
        char = control_character(value)
        if char is not None:
            raise YamlSyntaxError(self._file_line(node.start_mark),
                                  f"control character U+{ord(char):04X} in text (remove it)")
        return value


_Checks.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Checks.construct_mapping)
_Checks.add_constructor("tag:yaml.org,2002:timestamp", _Checks.construct_yaml_timestamp)
_Checks.add_constructor("tag:yaml.org,2002:int", _Checks.construct_yaml_int)
_Checks.add_constructor("tag:yaml.org,2002:str", _Checks.construct_yaml_str)


class _PureLoader(_Checks, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own reader, scanner and parser: what reports a document that does not parse."""

    def __init__(self, stream: str, first_line: int = 1) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _Checks.__init__(self, first_line)


try:
    from yaml.cyaml import CParser
except ImportError:  # a PyYAML built without libyaml
    _FastLoader: type | None = None
else:
    class _FastLoader(_Checks, CParser):  # type: ignore[no-redef]
        """libyaml's reader, scanner and parser (PyYAML's wheels have them): the events several times faster
        than PyYAML's own. Composing stays in Python (_Checks comes first), so the same limits apply."""

        def __init__(self, stream: str, first_line: int = 1) -> None:
            CParser.__init__(self, stream)
            _Checks.__init__(self, first_line)


def load_yaml(text: str, first_line: int = 1) -> Any:
    """Parse YAML safely; raises YamlSyntaxError with a line relative to the file.

    Parsed by libyaml where PyYAML has it; a document that libyaml refuses is parsed again by PyYAML's own
    parser, whose messages name what it found (and which accepts what PyYAML always has), so errors read
    the same with or without libyaml.
    """
    if _FastLoader is not None:
        try:
            return _load(_FastLoader, text, first_line)
        except YamlSyntaxError:  # _load turns every yaml.YAMLError into this
            pass
    return _load(_PureLoader, text, first_line)


def _load(loader_class: type, text: str, first_line: int) -> Any:
    loader = loader_class(text, first_line)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlSyntaxError(line, f"malformed YAML: {problem}") from None
    finally:
        loader.dispose()


def line_of(mapping: Any, key: str, default: int = 1) -> int:
    """The line of `key` in a LineDict, else of the mapping, else `default`."""
    if isinstance(mapping, LineDict):
        return mapping.lines.get(key, mapping.line)
    return default
