"""Every captured Gorgias payload in the reference folder validates against our schemas.

The reference folder (`spec/gorgias/reference/examples/`, sources in its `SOURCES.md`) holds
example objects, list pages, request bodies and error bodies taken from Gorgias's documentation
and from recorded traffic. Each one is checked against the schema of what it is, so a schema that
is too strict for real payloads (a missing `null`, a closed enum, a wrong type) fails here.

`EXAMPLES` maps every file to the schema file under `spec/gorgias/schemas/`, an optional `$defs`
name, and how the file holds the object(s):

- `object`: the file is one object;
- `items`: the file is a bare JSON array, every element is checked;
- `data`: a `{data: [...]}` list (data_list envelope), every element of `data` is checked;
- `cursor_page`: a cursor-paginated page, the `data` items are checked and the paging keys must be
  where the `cursor` paginator of connector.yaml reads them.

Schemas reference each other with relative `$ref`s (`tag.yaml`, `message.yaml#/$defs/...`); they
are resolved with a `referencing` registry in which every schema file is registered under its
`file://` URI. Formats are not asserted: Gorgias sends datetimes with and without an offset, which
the README says must be accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
SCHEMAS_DIR = REPO / "spec" / "gorgias" / "schemas"
EXAMPLES_DIR = REPO / "spec" / "gorgias" / "reference" / "examples"

# Historical Swagger 2.0 document (2016), not a payload of the current API.
IGNORED = frozenset({"spec_openapi-swagger2-legacy-2016.json"})

Shape = Literal["object", "items", "data", "cursor_page"]


@dataclass(frozen=True)
class Expect:
    schema_file: str
    """File name under spec/gorgias/schemas/."""
    definition: str | None = None
    """Name under `$defs`, or None for the document's own schema."""
    shape: Shape = "object"


EXAMPLES: dict[str, Expect] = {
    # account and settings
    "account_get.json": Expect("account.yaml"),
    "account-settings_list.json": Expect("account_setting.yaml", shape="data"),
    # configuration objects
    "custom-field_get.json": Expect("custom_field.yaml"),
    "event_get.json": Expect("event.yaml"),
    "integration_get.json": Expect("integration.yaml"),
    "job_get.json": Expect("job.yaml"),
    "macro_get.json": Expect("macro.yaml"),
    "satisfaction-survey_get.json": Expect("satisfaction_survey.yaml"),
    "tag_get.json": Expect("tag.yaml"),
    "tags_list.json": Expect("tag.yaml", shape="cursor_page"),
    "team_get.json": Expect("team.yaml"),
    "user_get.json": Expect("user.yaml"),
    "widget_get.json": Expect("widget.yaml"),
    "widget_get_current-spec.json": Expect("widget.yaml"),
    # voice
    "voice-call-events_list_item-example.json": Expect("voice_call_event.yaml", shape="items"),
    "voice-call-recording_get.json": Expect("voice_call_recording.yaml"),
    # reporting request body
    "reporting-stats_retrieve_request-example.json": Expect(
        "statistic.yaml", "ReportingStatsRequest"
    ),
    # tickets, messages, files, views, search
    "ticket_recorded-webhook-ticket-created.json": Expect("ticket.yaml"),
    "ticket_create_request-example-2019.json": Expect("ticket.yaml", "TicketCreate"),
    "message_get.json": Expect("message.yaml"),
    "message_recorded-webhook-ticket-message-created.json": Expect("message.yaml"),
    "file_get.json": Expect("file.yaml"),
    "file_upload.json": Expect("file.yaml", shape="items"),
    "views_list_item-example.json": Expect("view.yaml", shape="items"),
    # body of list_all_gorgias_search (spec/gorgias/resources/search.yaml)
    "search_request-example.json": Expect("search_result.yaml", "SearchRequest"),
    # error bodies
    "error_400_legacy-doc-example.json": Expect("error.yaml"),
    "error_401.json": Expect("error.yaml"),
    "error_401_spec-example.json": Expect("error.yaml"),
    "error_404_legacy-doc-example.json": Expect("error.yaml"),
    "error_405_legacy-doc-example.json": Expect("error.yaml"),
    "error_409_legacy-doc-example.json": Expect("error.yaml"),
    "error_503_legacy-doc-example.json": Expect("error.yaml"),
}

def _example_files() -> list[str]:
    if not EXAMPLES_DIR.is_dir():
        return []
    return sorted(p.name for p in EXAMPLES_DIR.glob("*.json") if p.name not in IGNORED)


def _schema_uri(file_name: str) -> str:
    return (SCHEMAS_DIR / file_name).resolve().as_uri()


@pytest.fixture(scope="module")
def registry() -> Registry:
    yaml = YAML(typ="safe")
    resources = []
    for path in sorted(SCHEMAS_DIR.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            contents = yaml.load(fh)
        resources.append(
            (
                path.resolve().as_uri(),
                Resource.from_contents(contents, default_specification=DRAFT202012),
            )
        )
    return Registry().with_resources(resources)


def _validator(registry: Registry, expect: Expect) -> Draft202012Validator:
    target = _schema_uri(expect.schema_file)
    if expect.definition:
        target += f"#/$defs/{expect.definition}"
    return Draft202012Validator({"$ref": target}, registry=registry)


def _items(name: str, payload: Any, expect: Expect) -> list[tuple[str, Any]]:
    """The objects of one example file, each with a label for error messages."""
    if expect.shape == "object":
        assert isinstance(payload, dict), f"{name}: expected a JSON object"
        return [(name, payload)]
    if expect.shape == "items":
        assert isinstance(payload, list), f"{name}: expected a JSON array"
        return [(f"{name}[{i}]", item) for i, item in enumerate(payload)]
    assert isinstance(payload, dict) and isinstance(payload.get("data"), list), (
        f"{name}: expected an object with a `data` array"
    )
    if expect.shape == "cursor_page":
        meta = payload.get("meta")
        assert isinstance(meta, dict), f"{name}: a cursor page carries its cursors under `meta`"
        for key in ("next_cursor", "prev_cursor"):
            assert key in meta, f"{name}: meta.{key} missing"
            assert meta[key] is None or isinstance(meta[key], str), (
                f"{name}: meta.{key} is not a string or null"
            )
    return [(f"{name}.data[{i}]", item) for i, item in enumerate(payload["data"])]


def test_every_example_file_is_mapped() -> None:
    files = set(_example_files())
    unmapped = sorted(files - EXAMPLES.keys())
    stale = sorted(EXAMPLES.keys() - files)
    assert not unmapped, f"example files with no schema in EXAMPLES (add a row): {unmapped}"
    assert not stale, f"EXAMPLES rows whose file no longer exists: {stale}"


def test_mapped_schema_files_exist() -> None:
    missing = sorted(
        {e.schema_file for e in EXAMPLES.values() if not (SCHEMAS_DIR / e.schema_file).is_file()}
    )
    assert not missing, f"schema files named in EXAMPLES are missing under {SCHEMAS_DIR}: {missing}"


@pytest.mark.parametrize("name", _example_files())
def test_example_validates(name: str, registry: Registry) -> None:
    expect = EXAMPLES.get(name)
    if expect is None:
        pytest.fail(f"{name} is not mapped in EXAMPLES")
    payload = json.loads((EXAMPLES_DIR / name).read_text(encoding="utf-8"))
    validator = _validator(registry, expect)
    items = _items(name, payload, expect)
    assert items, f"{name}: no object to validate"
    problems = [
        f"{label} at /{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for label, item in items
        for error in validator.iter_errors(item)
    ]
    assert not problems, "\n".join(problems)
