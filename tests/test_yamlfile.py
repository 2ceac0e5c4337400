"""narrate.yamlfile: PyYAML's safe semantics with key lines and limits, on libyaml's parser when PyYAML has it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from narrate.yamlfile import YamlSyntaxError, load_yaml

DOC = "title: A show\nvoices:\n  narrator: {engine: fake, rate: 165}\ndate: 2026-13-45\nlist: &l [1, 2]\nagain: *l\n"

_CHECKS = '''
import json, sys
from narrate.yamlfile import YamlSyntaxError, _FastLoader, load_yaml
doc = load_yaml(sys.argv[1], first_line=3)
errors = []
for bad in ("a: " + "[" * 60 + "]" * 60, "a: &x [*x]", "a: " + "9" * 40, "a: \\"\\\\x07\\"", "a: [1",
            "a: 1\\n b: 2\\n", "key: @x\\n", "a: {b: 1\\n", "a: " + "[" * 5000 + "]" * 5000):
    try:
        load_yaml(bad, first_line=2)
    except YamlSyntaxError as exc:
        errors.append([exc.line, exc.message])
print(json.dumps({"doc": doc, "lines": doc.lines, "inner": doc["voices"].lines, "errors": errors,
                  "parsers": [c.__name__ for c in (_FastLoader or object).__mro__]}, default=str))
'''


def _run(block_libyaml: bool) -> dict:
    code = ("import sys; sys.modules['yaml.cyaml'] = None\n" if block_libyaml else "") + _CHECKS
    out = subprocess.run([sys.executable, "-c", code, DOC], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="this PyYAML has no libyaml")
def test_libyaml_parses_and_pure_python_gives_the_same_results() -> None:
    fast, pure = _run(False), _run(True)
    assert "CParser" in fast["parsers"] and "CParser" not in pure["parsers"]
    assert "Composer" in fast["parsers"]  # composing stays in Python: its limits apply
    assert fast["doc"] == pure["doc"] and fast["doc"]["date"] == "2026-13-45" and fast["doc"]["again"] == [1, 2]
    assert fast["lines"] == pure["lines"] == {"title": 3, "voices": 4, "date": 6, "list": 7, "again": 8}
    assert fast["inner"] == {"narrator": 5}
    assert fast["errors"] == pure["errors"]  # a document libyaml refuses is reported by PyYAML's parser
    assert [message for _, message in fast["errors"][:4]] == [
        "values nested more than 50 deep", "alias *x refers to a value that contains it",
        "number with 40 digits is too large", "control character U+0007 in text (remove it)"]
    assert fast["errors"][4:] == [[2, "malformed YAML: expected ',' or ']', but got '<stream end>'"],
                                  [3, "malformed YAML: mapping values are not allowed here"],
                                  [2, "malformed YAML: found character '@' that cannot start any token"],
                                  [3, "malformed YAML: expected ',' or '}', but got '<stream end>'"],
                                  [2, "values nested more than 50 deep"]]


def test_deeper_than_libyaml_allows_is_the_nesting_limit() -> None:
    with pytest.raises(YamlSyntaxError) as deep:
        load_yaml("a: " + "[" * 5000 + "]" * 5000, first_line=7)
    assert (deep.value.line, deep.value.message) == (7, "values nested more than 50 deep")


def test_a_mapping_knows_its_key_lines() -> None:
    doc = load_yaml(DOC, first_line=10)
    assert doc.lines["voices"] == 11 and doc["voices"].line == 12 and doc["voices"]["narrator"]["rate"] == 165
