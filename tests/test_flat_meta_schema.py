"""The flattened draft 2020-12 meta-schema accepts exactly what the real one accepts.

`connectorgen.definition` checks schema files against a flat copy of the meta-schema first (no
`$dynamicRef`, no `allOf` over vocabularies, several times faster in jsonschema) and falls back to
the real validator for any file the copy rejects. A copy looser than the original would let an
invalid file through without a diagnostic, so both must agree on every schema file of the
project and of the test fixtures, and on schemas broken in every place the meta-schema recurses.
"""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from connectorgen.definition import _fast_validator, _language_validator, flat_meta_schema
from tests.conftest import REPO_ROOT

SCHEMA_FILES = sorted(
    p
    for base in (REPO_ROOT / "spec", REPO_ROOT / "tests" / "fixtures")
    for p in base.rglob("schemas/*.yaml")
)
GOOD = {"title": "Thing", "description": "A thing.", "type": "object"}
#: Each one breaks the meta-schema at another depth or keyword.
BROKEN: list[dict[str, Any]] = [
    {"type": "strin"},
    {"type": 5},
    {"required": "id"},
    {"minLength": -1},
    {"properties": {"a": {"type": "strin"}}},
    {"properties": {"a": {"items": {"maxItems": "3"}}}},
    {"$defs": {"X": {"enum": "a"}}},
    {"$defs": {"X": {"properties": {"y": {"anyOf": []}}}}},
    {"definitions": {"X": {"type": []}}},
    {"dependencies": {"a": 5}},
    {"additionalProperties": {"pattern": 3}},
    {"allOf": [{"oneOf": [{"not": {"multipleOf": 0}}]}]},
    {"prefixItems": [{"uniqueItems": "yes"}]},
    {"patternProperties": {"^x": {"format": 1}}},
    {"if": {"const": 1}, "then": {"deprecated": "no"}},
    {"contentSchema": {"minProperties": 1.5}},
    {"unevaluatedProperties": {"type": ["string", "string"]}},
    {"$ref": 5},
    {"$anchor": "1bad"},
    {"$id": 5},
    {"$schema": 5},
    {"$vocabulary": {"https://example.com/v": "yes"}},
    {"$defs": {"X": {"$dynamicAnchor": "1bad"}}},
    {"$comment": ["not", "text"]},
    {"dependentRequired": {"a": [1]}},
    {"properties": {"a": {"properties": {"b": {"properties": {"c": {"examples": "x"}}}}}}},
]
#: Valid, and using the rarer corners (booleans as schemas, legacy keywords, annotations).
ACCEPTED: list[dict[str, Any]] = [
    {"properties": {"a": True, "b": False}},
    {"definitions": {"X": {"type": "string"}}, "dependencies": {"a": ["b"], "c": {"required": []}}},
    {"$defs": {"X": {"$dynamicAnchor": "node", "items": {"$dynamicRef": "#node"}}}},
    {"contentMediaType": "application/json", "contentSchema": {"type": "object"}},
    {"x-known-values": ["a"], "examples": [1, "a"], "readOnly": True, "format": "date-time"},
]


def _load(path: Any) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def test_flat_meta_schema_has_no_dynamic_references() -> None:
    def references(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [f"{k}={v}" for k, v in node.items() if k in ("$ref", "$dynamicRef") and isinstance(v, str)]
            return own + [r for v in node.values() for r in references(v)]
        if isinstance(node, list):
            return [r for v in node for r in references(v)]
        return []

    found = references(flat_meta_schema())
    assert found and all(r == "$ref=#" or r.startswith("$ref=#/$defs/") for r in found), found
    assert "allOf" not in flat_meta_schema()
    assert {"properties", "items", "$defs", "type", "minLength"} <= set(flat_meta_schema()["properties"])


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=[str(p.relative_to(REPO_ROOT)) for p in SCHEMA_FILES])
def test_agrees_on_every_schema_file(path: Any) -> None:
    data = _load(path)
    fast = _fast_validator("schema-file")
    assert fast is not None
    assert fast.is_valid(data) == _language_validator("schema-file").is_valid(data)


@pytest.mark.parametrize("extra", BROKEN, ids=[repr(b)[:60] for b in BROKEN])
def test_rejects_what_the_meta_schema_rejects(extra: dict[str, Any]) -> None:
    document = {**GOOD, **extra}
    assert not _language_validator("schema-file").is_valid(document)
    fast = _fast_validator("schema-file")
    assert fast is not None and not fast.is_valid(document)


@pytest.mark.parametrize("extra", ACCEPTED, ids=[repr(a)[:60] for a in ACCEPTED])
def test_accepts_what_the_meta_schema_accepts(extra: dict[str, Any]) -> None:
    document = {**GOOD, **extra}
    assert _language_validator("schema-file").is_valid(document)
    fast = _fast_validator("schema-file")
    assert fast is not None and fast.is_valid(document)
