"""Every object a generated sandbox seeds validates against its collection's schema.

Property-style: for both connectors' sandboxes and for the definitions under `tests/fixtures/`
(whose sandboxes are made up from their schemas alone), every seeded object of every collection,
for several seeds, is checked with jsonschema (Draft 2020-12, with the formats the synthesiser
honours: email, uri, date, date-time, uuid). Bounds, lengths, enums, consts and item counts must
hold, or the typed client drops the values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.probe import run_probe
from tests.test_generate import run as run_cli

#: Runs where the generated package is importable; argv[1] is its import name. Prints JSON.
PROBE = r"""
import importlib, json, re, sys, uuid
from datetime import date, datetime
from urllib.parse import urlparse
from jsonschema import Draft202012Validator, FormatChecker

pkg = sys.argv[1]
store_mod = importlib.import_module(pkg + ".sandbox.store")
seed_mod = importlib.import_module(pkg + ".sandbox.seed")
schemas_mod = importlib.import_module(pkg + ".sandbox.schemas")

checker = FormatChecker(formats=())
@checker.checks("date-time", raises=ValueError)
def _dt(value):
    return not isinstance(value, str) or bool(datetime.fromisoformat(value.replace("Z", "+00:00")))
@checker.checks("date", raises=ValueError)
def _d(value):
    return not isinstance(value, str) or bool(date.fromisoformat(value))
@checker.checks("email")
def _email(value):
    return not isinstance(value, str) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None
@checker.checks("uuid", raises=ValueError)
def _uuid(value):
    return not isinstance(value, str) or bool(uuid.UUID(value))
@checker.checks("uri")
def _uri(value):
    return not isinstance(value, str) or bool(urlparse(value).scheme)

checked, problems = 0, []
for seed in (1, 2, 3):
    store = store_mod.Store()
    seed_mod.seed_store(store, seed)
    for name, col in sorted(store.collections.items()):
        schema = {"$ref": "#/$defs/" + col.schema, "$defs": schemas_mod.SCHEMAS}
        validator = Draft202012Validator(schema, format_checker=checker)
        for obj in col.all(None):
            checked += 1
            for error in validator.iter_errors(obj):
                problems.append(f"seed {seed} {name} {obj.get('id')!r} {list(error.absolute_path)}: {error.message[:200]}")
print(json.dumps({"checked": checked, "problems": problems}))
"""

FIXTURES = ["minimal", "paginated", "enveloped", "rest_variants", "small_helpdesk"]


def _probe(import_name: str, pythonpath: Path | None) -> dict[str, Any]:
    result, _ = run_probe(PROBE, pythonpath, import_name, cwd=pythonpath or REPO_ROOT, timeout=600)
    return result


@pytest.mark.parametrize("connector", ["gorgias", "zendesk"])
def test_every_seeded_object_of_a_connector_matches_its_schema(connector: str) -> None:
    result = _probe(connector, REPO_ROOT / "generated" / connector / "python")
    assert result["checked"] > 100
    assert result["problems"] == []


@pytest.mark.parametrize("fixture", FIXTURES)
def test_every_object_made_up_from_a_fixture_schema_matches_it(fixture: str, tmp_path: Path) -> None:
    code, output = run_cli("generate", str(REPO_ROOT / "tests" / "fixtures" / fixture), "-o", str(tmp_path))
    assert code == 0, output
    package = next(p.parent.parent.name for p in (tmp_path / "python").glob("*/sandbox/__init__.py"))
    result = _probe(package, tmp_path / "python")
    assert result["checked"] > 0
    assert result["problems"] == []


#: Schemas with every constraint the synthesiser honours, each checked over many draws.
BOUNDED = [
    {"type": "integer", "minimum": 1, "maximum": 4},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3},
    {"type": "integer", "minimum": 5000},
    {"type": "integer", "maximum": -3},
    {"type": "integer", "minimum": 10, "maximum": 100, "multipleOf": 5},
    {"type": "number", "minimum": 0.5, "maximum": 0.75},
    {"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 2},
    {"type": "string", "minLength": 40},
    {"type": "string", "maxLength": 3},
    {"type": "string", "format": "email", "maxLength": 20},
    {"type": "string", "format": "uri"},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "enum": ["low", "high"]},
    {"const": "fixed"},
    {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 2}, "minItems": 3, "maxItems": 5},
    {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}, "minItems": 1, "maxItems": 2,
     "uniqueItems": True},
    {"oneOf": [{"type": "integer", "minimum": 7, "maximum": 7}, {"type": "string"}]},
]


@pytest.mark.parametrize("schema", BOUNDED, ids=[json.dumps(s, sort_keys=True)[:60] for s in BOUNDED])
def test_the_synthesiser_honours_each_constraint(schema: dict[str, Any]) -> None:
    from datetime import date, datetime
    from uuid import UUID

    from jsonschema import Draft202012Validator, FormatChecker
    from zendesk.sandbox.seed import Seeder
    from zendesk.sandbox.store import Store

    checker = FormatChecker(formats=())
    checker.checks("date", raises=ValueError)(lambda v: bool(date.fromisoformat(v)))
    checker.checks("date-time", raises=ValueError)(lambda v: bool(datetime.fromisoformat(v)))
    checker.checks("uuid", raises=ValueError)(lambda v: bool(UUID(v)))
    checker.checks("email")(lambda v: "@" in v and "." in v.split("@")[1])
    checker.checks("uri")(lambda v: v.startswith("https://"))
    validator = Draft202012Validator(schema, format_checker=checker)
    seeder = Seeder(Store(), seed=7)
    values = [seeder.synth(schema, "contact_email" if "email" in str(schema) else "field", 0)
              for _ in range(200)]
    bad = [(value, error.message) for value in values for error in validator.iter_errors(value)]
    assert bad == []
    if schema.get("type") in ("integer", "number"):
        assert len(set(values)) >= 2          # spread over the range, not pinned to one bound
