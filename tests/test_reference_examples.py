"""Every captured payload in a connector's reference folder validates against its schemas.

The reference folder of each connector (`spec/<connector>/reference/examples/`, sources in its
`SOURCES.md`) holds example objects, list pages, request bodies and error bodies taken from the
vendor's documentation and from recorded traffic. Each one is checked against the schema of what
it is, so a schema that is too strict for real payloads (a missing `null`, a closed enum, a wrong
type) fails here.

`EXAMPLES[connector]` maps every file to the schema file under `spec/<connector>/schemas/`, an
optional `$defs` name, and how the file holds the object(s):

- `object`: the file is one object (with `key`: the object is under that key, `{"ticket": {...}}`);
- `items`: the file is a bare JSON array, every element is checked;
- `data`: a `{data: [...]}` list (data_list envelope), every element of `data` is checked;
- `cursor_page`: a Gorgias cursor-paginated page, the `data` items are checked and the paging keys
  must be where the `cursor` paginator of connector.yaml reads them;
- `keyed_list`: the items are under `key` (`{"tickets": [...]}`); with `paginator`, every path that
  paginator of connector.yaml reads (cursor, has-more, next URL, total, end of stream...) must be
  in the page.

A file may hold several objects (a created ticket and its audit): it then maps to several rows.

Schemas reference each other with relative `$ref`s (`tag.yaml`, `message.yaml#/$defs/...`); they
are resolved with a `referencing` registry in which every schema file is registered under its
`file://` URI. Formats are not asserted: Gorgias sends datetimes with and without an offset, which
the README says must be accepted.
"""

from __future__ import annotations

import functools
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

# Historical Swagger 2.0 document (2016), not a payload of the current API.
IGNORED = frozenset({"spec_openapi-swagger2-legacy-2016.json"})

Shape = Literal["object", "items", "data", "cursor_page", "keyed_list"]


@dataclass(frozen=True)
class Expect:
    schema_file: str
    """File name under spec/gorgias/schemas/."""
    definition: str | None = None
    """Name under `$defs`, or None for the document's own schema."""
    shape: Shape = "object"
    key: str | None = None
    """Key the object (shape `object`) or the items (shape `keyed_list`) are under."""
    paginator: str | None = None
    """For `keyed_list`: the paginator of connector.yaml whose paths the page must carry."""


GORGIAS: dict[str, Expect] = {
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

# Zendesk wraps objects under a singular key and lists under a plural one.
ZENDESK: dict[str, Expect | tuple[Expect, ...]] = {
    "comments_list-response_documented.json": Expect("comment.yaml", shape="keyed_list", key="comments"),
    "group_show-response_documented.json": Expect("group.yaml", key="group"),
    "incremental-tickets_cursor-page_recorded.json": Expect(
        "ticket.yaml", shape="keyed_list", key="tickets", paginator="incremental_cursor"
    ),
    "incremental-tickets_time-based-page_recorded.json": Expect(
        "ticket.yaml", shape="keyed_list", key="tickets", paginator="incremental_time"
    ),
    "job-status_completed_recorded.json": Expect("job_status.yaml", key="job_status"),
    "job-status_queued_recorded.json": Expect("job_status.yaml", key="job_status"),
    "macro-apply_changes-response_documented.json": Expect("macro.yaml", "MacroResult", key="result"),
    "macro_show-response_documented.json": Expect("macro.yaml", key="macro"),
    "organization_show-response_documented.json": Expect("organization.yaml", key="organization"),
    "satisfaction-ratings_list-response_documented.json": Expect(
        "satisfaction_rating.yaml", shape="keyed_list", key="satisfaction_ratings"
    ),
    "search-export_page_recorded.json": Expect(
        "search_result.yaml", shape="keyed_list", key="results", paginator="export_cursor"
    ),
    "search_results-page_documented.json": Expect(
        "search_result.yaml", shape="keyed_list", key="results", paginator="pages"
    ),
    "tags_list-offset-page_recorded.json": Expect("tag.yaml", shape="keyed_list", key="tags", paginator="pages"),
    "ticket-field_show-response_documented.json": Expect("ticket_field.yaml", key="ticket_field"),
    "ticket-tags_list-response_documented.json": Expect("tag.yaml", "TagList"),
    "ticket_create-request_documented.json": Expect("ticket.yaml", "TicketCreate", key="ticket"),
    "ticket_create-response_recorded.json": (
        Expect("ticket.yaml", key="ticket"),
        Expect("audit.yaml", key="audit"),
    ),
    "ticket_show-response_documented.json": Expect("ticket.yaml", key="ticket"),
    "ticket_update-request_documented.json": Expect("ticket.yaml", "TicketUpdate", key="ticket"),
    "tickets_list-cursor-page_recorded.json": Expect(
        "ticket.yaml", shape="keyed_list", key="tickets", paginator="cursor"
    ),
    "tickets_show-many-offset-envelope_recorded.json": Expect(
        "ticket.yaml", shape="keyed_list", key="tickets", paginator="pages"
    ),
    "upload_create-response_recorded.json": Expect("upload.yaml", key="upload"),
    "user_create-response_recorded.json": Expect("user.yaml", key="user"),
    "view_show-response_documented.json": Expect("view.yaml", key="view"),
    # error bodies
    "error_400-too-many-values_recorded.json": Expect("error.yaml"),
    "error_401-couldnt-authenticate_reported.json": Expect("error.yaml"),
    "error_404-record-not-found_recorded.json": Expect("error.yaml"),
    "error_422-record-invalid_reported.json": Expect("error.yaml"),
    "error_429-errors-array_documented.json": Expect("error.yaml"),
    "error_search-unavailable_documented.json": Expect("error.yaml"),
}

EXAMPLES: dict[str, dict[str, Expect | tuple[Expect, ...]]] = {"gorgias": dict(GORGIAS), "zendesk": ZENDESK}
"""Every connector of `spec/` with a reference folder, and how its example files map to schemas."""


def _schemas_dir(connector: str) -> Path:
    return REPO / "spec" / connector / "schemas"


def _examples_dir(connector: str) -> Path:
    return REPO / "spec" / connector / "reference" / "examples"


def _expects(connector: str, name: str) -> tuple[Expect, ...]:
    entry = EXAMPLES[connector].get(name)
    if entry is None:
        return ()
    return entry if isinstance(entry, tuple) else (entry,)

def _example_files(connector: str) -> list[str]:
    folder = _examples_dir(connector)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.glob("*.json") if p.name not in IGNORED)


def _cases() -> list[tuple[str, str]]:
    return [(connector, name) for connector in sorted(EXAMPLES) for name in _example_files(connector)]


def _schema_uri(connector: str, file_name: str) -> str:
    return (_schemas_dir(connector) / file_name).resolve().as_uri()


@functools.cache
def _registry(connector: str) -> Registry:
    yaml = YAML(typ="safe")
    resources = []
    for path in sorted(_schemas_dir(connector).glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            contents = yaml.load(fh)
        resources.append(
            (
                path.resolve().as_uri(),
                Resource.from_contents(contents, default_specification=DRAFT202012),
            )
        )
    return Registry().with_resources(resources)


@functools.cache
def _paginators(connector: str) -> dict[str, Any]:
    with (REPO / "spec" / connector / "connector.yaml").open(encoding="utf-8") as fh:
        return dict(YAML(typ="safe").load(fh).get("paginators") or {})


def _validator(connector: str, expect: Expect) -> Draft202012Validator:
    target = _schema_uri(connector, expect.schema_file)
    if expect.definition:
        target += f"#/$defs/{expect.definition}"
    return Draft202012Validator({"$ref": target}, registry=_registry(connector))


#: Paginator keys naming where a page carries its paging information.
PAGE_PATHS = (
    "next_cursor_path", "prev_cursor_path", "has_more_path", "next_url_path", "total_path",
    "next_start_path", "end_of_stream_path",
)


def _has_path(payload: Any, dotted: str) -> bool:
    node = payload
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _items(connector: str, name: str, payload: Any, expect: Expect) -> list[tuple[str, Any]]:
    """The objects of one example file, each with a label for error messages."""
    if expect.shape == "object":
        if expect.key is not None:
            assert isinstance(payload, dict) and isinstance(payload.get(expect.key), dict), (
                f"{name}: expected an object under `{expect.key}`"
            )
            return [(f"{name}.{expect.key}", payload[expect.key])]
        assert isinstance(payload, dict), f"{name}: expected a JSON object"
        return [(name, payload)]
    if expect.shape == "items":
        assert isinstance(payload, list), f"{name}: expected a JSON array"
        return [(f"{name}[{i}]", item) for i, item in enumerate(payload)]
    if expect.shape == "keyed_list":
        assert expect.key is not None
        assert isinstance(payload, dict) and isinstance(payload.get(expect.key), list), (
            f"{name}: expected the items under `{expect.key}`"
        )
        if expect.paginator is not None:
            paginator = _paginators(connector)[expect.paginator]
            missing = [
                paginator[k] for k in PAGE_PATHS if k in paginator and not _has_path(payload, paginator[k])
            ]
            assert not missing, f"{name}: paginator {expect.paginator!r} reads {missing}, absent from the page"
        return [(f"{name}.{expect.key}[{i}]", item) for i, item in enumerate(payload[expect.key])]
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


def test_every_connector_with_examples_is_covered() -> None:
    with_examples = sorted(p.parent.parent.name for p in (REPO / "spec").glob("*/reference/examples"))
    assert with_examples and sorted(EXAMPLES) == with_examples


@pytest.mark.parametrize("connector", sorted(EXAMPLES))
def test_every_example_file_is_mapped(connector: str) -> None:
    files = set(_example_files(connector))
    unmapped = sorted(files - EXAMPLES[connector].keys())
    stale = sorted(EXAMPLES[connector].keys() - files)
    assert not unmapped, f"example files with no schema in EXAMPLES (add a row): {unmapped}"
    assert not stale, f"EXAMPLES rows whose file no longer exists: {stale}"


@pytest.mark.parametrize("connector", sorted(EXAMPLES))
def test_mapped_schema_files_exist(connector: str) -> None:
    folder = _schemas_dir(connector)
    named = {e.schema_file for name in EXAMPLES[connector] for e in _expects(connector, name)}
    missing = sorted(f for f in named if not (folder / f).is_file())
    assert not missing, f"schema files named in EXAMPLES are missing under {folder}: {missing}"


@pytest.mark.parametrize(("connector", "name"), _cases())
def test_example_validates(connector: str, name: str) -> None:
    expects = _expects(connector, name)
    if not expects:
        pytest.fail(f"{name} is not mapped in EXAMPLES[{connector!r}]")
    payload = json.loads((_examples_dir(connector) / name).read_text(encoding="utf-8"))
    problems = []
    for expect in expects:
        validator = _validator(connector, expect)
        items = _items(connector, name, payload, expect)
        assert items, f"{name}: no object to validate"
        problems += [
            f"{label} at /{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
            for label, item in items
            for error in validator.iter_errors(item)
        ]
    assert not problems, "\n".join(problems)
