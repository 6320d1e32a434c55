"""The sandbox serves what a connector's own sandbox definition says, and no more.

A tiny connector (the validator's minimal fixture, with a richer `things` schema and a `notes`
resource) gets exactly the records and generated objects of its `sandbox/sandbox.yaml`, stamped
with its own timestamp fields; the same connector without a sandbox definition still serves every
operation, with data made up from the schemas.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from connectorgen.definition import language_schema
from connectorgen.emitters.sandbox import emit
from connectorgen.pipeline import build

from .conftest import API_KEY, EMAIL

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
ANCHOR = datetime.fromisoformat("2025-06-01T12:00:00+00:00")

THING_SCHEMA = """\
title: Thing
description: A thing.
type: object
properties:
  id: {type: integer, description: Identifier.}
  name: {type: string, description: Display name.}
  email: {type: [string, "null"], description: Contact address.}
  kind: {type: [string, "null"], description: Kind of thing.}
  colour: {type: [string, "null"], description: Colour picked from the vocabulary.}
  serial: {type: [integer, "null"], description: Serial number.}
  size: {type: [integer, "null"], description: Size.}
  price: {type: [number, "null"], description: Price.}
  fragile: {type: [boolean, "null"], description: Handle with care.}
  label: {type: [string, "null"], description: Fixed label.}
  code: {type: [string, "null"], description: Random hex code.}
  slot: {type: [string, "null"], description: Slot taken in turn.}
  note_id: {type: [integer, "null"], description: A note of the thing.}
  intro: {type: [string, "null"], description: Text rendered from a vocabulary entry.}
  first_tag: {type: [string, "null"], description: One of the tags.}
  tags: {type: array, items: {type: string}, description: Tags.}
  parts: {type: array, items: {type: integer}, description: Part numbers.}
  extras: {type: array, items: {type: object}, description: Optional extras.}
  owner: {$ref: "#/$defs/ThingOwner"}
  manual: {type: [object, "null"], description: A stored file.}
  channel_id: {type: [integer, "null"], description: A nested id.}
  sold: {type: [string, "null"], description: Sold only when the kind is gadget.}
  created_at: {type: [string, "null"], format: date-time, description: Created.}
  updated_at: {type: [string, "null"], format: date-time, description: Updated.}
  closed_at: {type: [string, "null"], format: date-time, description: Closed.}
$defs:
  ThingOwner:
    title: ThingOwner
    description: Who owns the thing.
    type: [object, "null"]
    properties:
      id: {type: integer, description: Owner id.}
      name: {type: [string, "null"], description: Owner name.}
  ThingCreate:
    title: ThingCreate
    description: Body that creates a thing.
    type: object
    required: [name]
    properties:
      name: {type: string, description: Display name.}
"""

NOTE_SCHEMA = """\
title: Note
description: A note about a thing.
type: object
properties:
  id: {type: integer, description: Identifier.}
  thing_id: {type: [integer, "null"], description: The thing.}
  text: {type: [string, "null"], description: Text.}
  created_at: {type: [string, "null"], format: date-time, description: Created.}
"""

NOTES_RESOURCE = """\
resource: notes
title: Notes
description: Notes about things.
scopes:
  read: ["things:read"]
operations:
  - tool: list_all_demo_notes
    kind: list
    method: GET
    path: /api/notes
    summary: List notes
    description: Returns notes one page at a time.
    response:
      status: 200
      envelope: cursor_list
      schema: {$ref: ../schemas/note.yaml}
  - tool: get_single_demo_note_by_id
    kind: get
    method: GET
    path: /api/notes/{id}
    summary: Get a note
    description: Returns one note.
    parameters:
      - name: id
        in: path
        required: true
        description: Note id.
        schema: {type: integer, minimum: 1}
    response:
      status: 200
      envelope: object
      schema: {$ref: ../schemas/note.yaml}
"""

SANDBOX = """\
timestamps: {created: created_at, updated: updated_at, suffix: _at}
behaviours:
  unique_fields: {things: [name]}
seed:
  anchor: "2025-06-01T12:00:00Z"
  id_start: {things: 100, notes: 500}
  vocabulary:
    colours: [red, green, blue]
    words: [alpha, beta]
    intros: [{text: "Hello {name}, size {size}"}]
  collections:
    notes:
      records:
        - {id: 7, text: A note written by hand}
    things:
      records:
        - {id: 1, name: Literal one, kind: gadget, tags: [a, b], created_at: "2025-05-01T00:00:00+00:00"}
        - {name: Literal two}
      generate:
        count: 10
        fields:
          _first: {pick: words}
          serial: {sequence: 1000}
          name: {template: "{_first}-{serial}-{colours}"}
          email: {template: "{_first}.{serial}@Example.com", lower: true}
          kind: {choice: [gadget, widget], weights: [1, 0]}
          colour: {pick: colours}
          size: {int: [3, 5]}
          price: {float: [1, 2], digits: 1}
          fragile: {bool: 1}
          label: {const: fixed}
          code: {hex: 8}
          slot: {cycle: [x, y, z]}
          note_id: {ref: notes}
          _intro: {pick: intros}
          intro: {render: _intro.text}
          tags: {items: [{const: t1}, {const: t2, null_rate: 1}, {copy: colour}]}
          first_tag: {one_of: tags}
          parts: {list: {int: [1, 9]}, count: 3}
          extras: {list: {object: {n: {int: [1, 2]}}}, count: [0, 0]}
          owner: {object: {id: {copy: serial}, name: {copy: _first}}}
          manual: {file: {name: "manual-{serial}.txt", content_type: text/plain, content_base64: aGVsbG8=}}
          channel_id: {nested_id: true}
          created_at: {days_ago: [1, 2]}
          closed_at: {after: created_at, hours: [1, 2]}
          sold: {const: "yes", when: {kind: gadget}, otherwise: {const: "no"}}
        children:
          notes:
            - count: 2
              fields:
                thing_id: {copy: parent.id}
                text: {template: "note {index} of {parent.name}"}
            - when: {kind: widget}
              fields: {text: only for widgets}
            - probability: 0
              fields: {text: never made}
"""


def _connector(tmp_path: Path, import_name: str, *, sandbox: str | None) -> Path:
    root = tmp_path / "def"
    shutil.copytree(FIXTURES / "minimal", root)
    (root / "schemas" / "thing.yaml").write_text(THING_SCHEMA)
    (root / "schemas" / "note.yaml").write_text(NOTE_SCHEMA)
    (root / "resources" / "notes.yaml").write_text(NOTES_RESOURCE)
    with (root / "connector.yaml").open("a") as out:
        out.write(f"package: {{import_name: {import_name}}}\n")
    if sandbox is not None:
        (root / "sandbox").mkdir()
        (root / "sandbox" / "sandbox.yaml").write_text(sandbox)
    return root


def _sandbox_package(tmp_path: Path, import_name: str, *, sandbox: str | None) -> Any:
    connector = build(_connector(tmp_path, import_name, sandbox=sandbox))
    out = tmp_path / "pkg"
    for name, text in emit(connector).items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text if isinstance(text, str) else text.decode())
    (out / "python" / import_name / "__init__.py").write_text("")
    sys.path.insert(0, str(out / "python"))
    return importlib.import_module(f"{import_name}.sandbox")


@pytest.fixture(scope="module")
def recipes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield _sandbox_package(tmp_path_factory.mktemp("recipes"), "sbxrecipes", sandbox=SANDBOX)


def _things(app: Any) -> list[dict[str, Any]]:
    return sorted(app.store.col("things").all(), key=lambda t: t["id"])


def test_literal_records_are_served_as_written(recipes: Any) -> None:
    app = recipes.create_app(seed=1)
    things = _things(app)
    first, second = things[0], things[1]
    assert first["id"] == 1 and first["name"] == "Literal one" and first["tags"] == ["a", "b"]
    assert first["created_at"] == "2025-05-01T00:00:00+00:00"
    assert first["email"] is None and first["parts"] == [] and "uri" not in first  # left out: empty
    assert second["id"] == 100 and second["name"] == "Literal two"  # ids are allocated from id_start
    notes = {n["id"]: n for n in app.store.col("notes").all()}
    assert notes[7]["text"] == "A note written by hand"


def test_each_field_generator_gives_its_values(recipes: Any) -> None:
    app = recipes.create_app(seed=1)
    generated = _things(app)[2:]
    assert len(generated) == 10 and [t["id"] for t in generated] == list(range(101, 111))
    note_ids = {n["id"] for n in app.store.col("notes").all()}
    for index, thing in enumerate(generated):
        assert thing["serial"] == 1000 + index
        first = thing["owner"]["name"]
        assert first in ("alpha", "beta") and thing["owner"] == {"id": thing["serial"], "name": first}
        assert re.fullmatch(rf"{first}-{thing['serial']}-(red|green|blue)", thing["name"])
        assert thing["email"] == f"{first}.{thing['serial']}@example.com"
        assert thing["kind"] == "gadget" and thing["sold"] == "yes"
        assert thing["colour"] in ("red", "green", "blue")
        assert 3 <= thing["size"] <= 5 and thing["intro"] == f"Hello {thing['name']}, size {thing['size']}"
        assert 1 <= thing["price"] <= 2 and round(thing["price"], 1) == thing["price"]
        assert thing["fragile"] is True and thing["label"] == "fixed"
        assert re.fullmatch(r"[0-9a-f]{8}", thing["code"])
        assert thing["slot"] == "xyz"[index % 3]
        if index == 0:
            assert thing["note_id"] == 7  # the only note when the first thing is made
        assert thing["tags"] == ["t1", thing["colour"]] and thing["first_tag"] in thing["tags"]
        assert len(thing["parts"]) == 3 and all(1 <= p <= 9 for p in thing["parts"])
        assert thing["extras"] == []
        assert thing["manual"]["name"] == f"manual-{thing['serial']}.txt" and thing["manual"]["size"] == 5
        assert thing["manual"]["content_type"] == "text/plain"
        created = datetime.fromisoformat(thing["created_at"])
        assert ANCHOR - timedelta(days=2) <= created <= ANCHOR - timedelta(days=1)
        closed = datetime.fromisoformat(thing["closed_at"])
        assert timedelta(hours=1) <= closed - created <= timedelta(hours=2)
        assert not any(name.startswith("_") for name in thing)
        assert thing["note_id"] in note_ids and thing["note_id"] < 500 + 2 * index
    assert len({t["channel_id"] for t in generated}) == 10
    stored = {f.name: f.content for f in app.store.files.values()}
    assert stored["manual-1000.txt"] == b"hello"


def test_children_are_made_for_each_parent(recipes: Any) -> None:
    app = recipes.create_app(seed=1)
    notes = sorted(app.store.col("notes").all(), key=lambda n: n["id"])
    made = [n for n in notes if n["id"] != 7]
    assert len(made) == 20 and made[0]["id"] == 500
    by_thing: dict[int, list[dict[str, Any]]] = {}
    for note in made:
        by_thing.setdefault(note["thing_id"], []).append(note)
    names = {t["id"]: t["name"] for t in _things(app)}
    assert sorted(by_thing) == list(range(101, 111))
    for thing_id, children in by_thing.items():
        assert [c["text"] for c in children] == [f"note 0 of {names[thing_id]}", f"note 1 of {names[thing_id]}"]


def test_seed_and_scale(recipes: Any) -> None:
    a, b, c = (recipes.create_app(seed=s) for s in (3, 3, 4))
    assert a.store.export() == b.store.export()
    assert a.store.export() != c.store.export()
    assert recipes.create_app(seed=3, scale=0.5).store.counts()["things"] == 2 + 5  # records are not scaled


def test_writes_use_the_declared_timestamps_and_behaviours(recipes: Any) -> None:
    handle = recipes.serve_in_thread(seed=1, rate_limit="off")
    try:
        with httpx.Client(base_url=handle.base_url, auth=(EMAIL, API_KEY)) as http:
            created = http.post("/api/things", json={"name": "Brand new"})
            assert created.status_code == 201, created.text
            thing = created.json()
            assert thing["created_at"] and thing["created_at"] == thing["updated_at"]
            assert "created_datetime" not in thing and "updated_datetime" not in thing
            duplicate = http.post("/api/things", json={"name": "Brand new"})
            assert duplicate.status_code == 409
            page = http.get("/api/things", params={"limit": 100}).json()
            assert page["data"][0]["id"] == thing["id"]  # newest first: ordered by the declared `created`
            assert len(page["data"]) == 13
    finally:
        handle.stop()


def test_without_a_sandbox_definition_every_operation_is_served(tmp_path: Path) -> None:
    bare = _sandbox_package(tmp_path, "sbxbare", sandbox=None)
    data = json.loads((Path(bare.__file__).parent / "_sandbox_data.json").read_text())
    assert data == {"format": 1, "timestamps": {}, "behaviours": {}, "seed": {}}
    handle = bare.serve_in_thread(seed=1, rate_limit="off")
    try:
        with httpx.Client(base_url=handle.base_url, auth=(EMAIL, API_KEY)) as http:
            things = http.get("/api/things").json()["data"]
            assert len(things) == 8 and all(isinstance(t["id"], int) for t in things)
            one = http.get(f"/api/things/{things[0]['id']}")
            assert one.status_code == 200 and one.json()["id"] == things[0]["id"]
            notes = http.get("/api/notes").json()["data"]
            assert notes and http.get(f"/api/notes/{notes[0]['id']}").status_code == 200
            created = http.post("/api/things", json={"name": "No behaviours"})
            assert created.status_code == 201 and created.json()["name"] == "No behaviours"
            assert created.json()["created_at"] is None  # nothing says which field is a write time
            again = http.post("/api/things", json={"name": "No behaviours"})
            assert again.status_code == 201  # no unique fields declared
    finally:
        handle.stop()


def test_the_language_schema_is_valid_and_documents_every_key() -> None:
    schema = language_schema("sandbox")
    jsonschema.Draft202012Validator.check_schema(schema)

    def undocumented(node: Any, at: str) -> Iterator[str]:
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                if isinstance(sub, dict) and "description" not in sub and "$ref" not in sub and name != "$schema":
                    yield f"{at}.{name}"
            for key, sub in node.items():
                yield from undocumented(sub, f"{at}.{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                yield from undocumented(sub, f"{at}[{i}]")

    assert list(undocumented(schema, "$")) == []


def test_gorgias_without_its_sandbox_definition_serves_every_route(tmp_path: Path) -> None:
    """The real definition minus `sandbox/`: made-up data (children point at existing parents),
    every GET answers its documented status, no route fails with a 5xx."""
    from .test_sandbox_routes import _path_values, _required_query

    root = tmp_path / "spec"
    shutil.copytree(REPO_ROOT / "spec" / "gorgias", root, ignore=shutil.ignore_patterns("sandbox"))
    connector_yaml = root / "connector.yaml"
    connector_yaml.write_text(connector_yaml.read_text().replace("import_name: gorgias", "import_name: gorgiasbare"))
    connector = build(root)
    assert connector.sandbox is None
    out = tmp_path / "pkg"
    for name, text in emit(connector).items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text if isinstance(text, str) else text.decode())
    (out / "python" / "gorgiasbare" / "__init__.py").write_text("")
    sys.path.insert(0, str(out / "python"))
    bare = importlib.import_module("gorgiasbare.sandbox")
    handle = bare.serve_in_thread(seed=1, rate_limit="off")
    problems = []
    try:
        assert all(count > 0 for count in handle.store.counts().values()), handle.store.counts()
        with httpx.Client(base_url=handle.base_url, auth=(EMAIL, API_KEY)) as http:
            for route in handle.app.routes:
                if route["handler"] in ("raw_url", "file_redirect"):
                    continue
                values = _path_values(handle.store, route)
                assert values is not None, route["tool"]
                for name in re.findall(r"\{(\w+)\}", route["path"]):
                    values.setdefault(name, "x")
                body = {} if route["method"] in ("POST", "PUT", "PATCH") else None
                response = http.request(
                    route["method"], route["path"].format(**values), params=_required_query(route), json=body
                )
                if response.status_code >= 500 or (route["method"] == "GET" and response.status_code != route["status"]):
                    problems.append((route["tool"], response.status_code, response.text[:200]))
    finally:
        handle.stop()
    assert problems == []


def test_the_sandbox_runtime_passes_mypy_strict() -> None:
    """The static runtime modules (copied as they are into every package) are type-checked."""
    import os
    import subprocess

    generated = REPO_ROOT / "generated" / "gorgias" / "python"
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null", "gorgias/sandbox"],
        capture_output=True, text=True, cwd=generated, env={**os.environ, "MYPYPATH": str(generated)}, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout
