"""Routes come from the definition: every operation is served, reads of seeded objects answer
schema-valid bodies, and an operation added to the definition is served with no sandbox change."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import API_KEY, EMAIL, REPO_ROOT, sandbox_module

sandbox = sandbox_module()

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

from connectorgen.emitters.sandbox import build_spec, emit  # noqa: E402
from connectorgen.pipeline import build  # noqa: E402
from tests.conftest import GORGIAS_SPEC  # noqa: E402

S = importlib.import_module("gorgias.sandbox.schemas")
HANDLERS = importlib.import_module("gorgias.sandbox.handlers").HANDLERS


@pytest.fixture(scope="module")
def connector() -> Any:
    return build(GORGIAS_SPEC)


def test_every_operation_has_a_route(connector: Any) -> None:
    spec = build_spec(connector)
    served = {r["tool"] for r in spec["routes"]} | {a for r in spec["routes"] for a in r["aliases"]}
    assert served == {op.tool for op in connector.operations}
    keys = [(r["method"], r["path"]) for r in spec["routes"]]
    assert len(keys) == len(set(keys)), "one route per method + path"
    for op in connector.operations:
        if not op.same_endpoint_as:
            assert (op.http_method, op.path) in keys
    assert all(r["handler"] in HANDLERS for r in spec["routes"])
    generic = [r["tool"] for r in spec["routes"] if r["handler"] == "generic"]
    assert generic == [], f"operations without a dedicated behaviour: {generic}"


def test_generated_sandbox_matches_the_definition(connector: Any) -> None:
    generated = importlib.import_module("gorgias.sandbox._spec").SPEC
    assert generated == build_spec(connector), "generated/ is stale: run `connectorgen generate`"


def test_app_registers_every_route(server: Any) -> None:
    registered = {(m, r.path) for r in server.app.router.routes for m in (r.methods or ())}
    for route in server.app.routes:
        assert (route["method"], route["route_path"]) in registered


def _path_values(store: Any, route: dict[str, Any]) -> dict[str, Any] | None:
    params = [p["name"] for p in route["params"] if p["in"] == "path"]
    values: dict[str, Any] = {}
    collection = route.get("collection")
    if collection:
        col = store.col(collection)
        scope = col.spec["scope"]
        if scope:
            parent, bucket = next(
                ((k, b) for k, b in sorted(col.items.items(), key=lambda kv: str(kv[0])) if b),
                (None, None),
            )
            if parent is None:
                return None
            values[scope["param"]] = parent[1]
            if route["level"] == "item":
                values[params[-1]] = sorted(bucket)[0]
            return values
        objects = sorted(col.all(), key=lambda o: o.get("id", 0))
        if not objects:
            return None
        chosen = objects[len(objects) // 2]
        for param, link in col.spec["parent_fields"].items():
            if param in params:
                values[param] = chosen[link["field"]]
        if route["level"] in ("item", "item_action"):
            values[params[-1]] = chosen.get("id")
        return values
    for key in ("relation", "derived"):
        link = route.get(key)
        if link and link.get("parent") and link.get("parent_param") in params:
            parents = sorted(store.col(link["parent"]).all(), key=lambda o: o.get("id", 0))
            values[link["parent_param"]] = parents[len(parents) // 2]["id"]
    return values


def _required_query(route: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for p in route["params"]:
        if p["in"] == "query" and p["required"]:
            schema = p["schema"]
            out[p["name"]] = (schema.get("enum") or schema.get("x-known-values") or ["x"])[0]
    return out


def test_every_read_answers_schema_valid_data(server: Any) -> None:
    """Each GET operation, called with ids of seeded objects, answers its documented status and a
    body valid against its response schema."""
    checked = 0
    with httpx.Client(base_url=server.base_url, auth=(EMAIL, API_KEY)) as http:
        for route in server.app.routes:
            if route["method"] != "GET" or route["handler"] == "raw_url":
                continue
            if route["handler"] == "file_redirect":
                stored = next(iter(server.store.files.values()))
                path = (
                    f"/api/{stored.file_type}/download/{stored.domain_hash}/{stored.resource_name}"
                )
            else:
                values = _path_values(server.store, route)
                assert values is not None, route["tool"]
                path = route["path"].format(**values)
            response = http.get(path, params=_required_query(route))
            assert response.status_code == route["status"], (
                route["tool"],
                path,
                response.text[:300],
            )
            env = route["envelope"]["type"]
            if env in ("binary", "csv", "empty"):
                continue
            body = response.json()
            schema = S.named(route["schema"]) if route["schema"] else route["inline_schema"]
            items = [body] if env == "object" else body if env == "bare_array" else body["data"]
            assert items or env == "object", (route["tool"], "no data")
            for item in items:
                problems = [e.message for e in S.errors(schema, item)]
                assert not problems, (route["tool"], problems[:3])
            checked += 1
    assert checked >= 40


def test_minimal_doc_examples_send_an_accepted_body(connector: Any, fresh: Any) -> None:
    """The docs' "required arguments only" example of every operation whose required arguments
    are its path ids (those of seeded objects here) is accepted: it sends a body (an empty one
    answers 400 "Missing request body")."""
    from connectorgen.emitters.docs.render import example_arguments

    from .conftest import client_for

    handle = fresh(seed=1)
    routes = {tool: r for r in handle.app.routes for tool in (r["tool"], *r["aliases"])}
    client = client_for(handle, max_retries=0)
    tried = []
    for op in connector.operations:
        if op.body is None or any(e.arguments for e in op.examples):
            continue
        if any(a.required and a.location != "path" for a in op.arguments):
            continue  # not the path-ids-only call; other ids would be invented (unknown here)
        arguments, _, _ = example_arguments(op, connector.schemas)
        values = _path_values(handle.store, routes[op.tool])
        assert values is not None, op.tool
        arguments.update({name: value for name, value in values.items() if name in arguments})
        client.invoke(op.tool, arguments)  # raises a typed error on any 4xx
        tried.append(op.tool)
    assert len(tried) >= 15
    assert {"update_a_gorgias_tag_by_id", "update_a_gorgias_ticket_tag_by_id"} <= set(tried)


def test_seeded_objects_validate_against_their_schemas(server: Any) -> None:
    store = server.store
    for name, col in store.collections.items():
        objects = col.all(None)
        assert objects, f"no seeded {name}"
        for obj in objects:
            rendered = store.render(col, obj, full=True)
            problems = [e.message for e in S.errors(S.named(col.schema), rendered)]
            assert not problems, (name, obj.get("id"), problems[:3])


def test_seed_is_deterministic_and_realistic() -> None:
    a = sandbox.create_app(seed=5)
    b = sandbox.create_app(seed=5)
    c = sandbox.create_app(seed=6)
    assert a.store.export() == b.store.export()
    assert a.store.export() != c.store.export()
    counts = a.store.counts()
    assert counts["tickets"] >= 250 and counts["messages"] >= 2 * counts["tickets"]
    assert counts["customers"] >= 100 and counts["tags"] >= 20 and counts["events"] >= 100
    assert sandbox.create_app(seed=5, scale=0.2).store.counts()["tickets"] == 60


def test_data_file_round_trip(tmp_path: Path) -> None:
    original = sandbox.create_app(seed=2)
    original.store.col("tags").get(101)["name"] = "renamed-in-export"
    path = tmp_path / "data.json"
    import json

    path.write_text(json.dumps(original.store.export()))
    loaded = sandbox.create_app(data=str(path))
    assert loaded.store.export() == original.store.export()
    assert loaded.store.col("tags").get(101)["name"] == "renamed-in-export"


# --- a new operation in the definition is served automatically ------------------------------

COUPON_SCHEMA = """\
# yaml-language-server: $schema=../../../generator/connectorgen/language/schema-file.schema.json
$schema: https://json-schema.org/draft/2020-12/schema
title: Coupon
description: A discount code customers can redeem.
type: object
properties:
  id:
    type: integer
    description: Coupon id.
  code:
    type: string
    description: The code to type at checkout.
  percent_off:
    type: [integer, "null"]
    description: Discount in percent.
  redeemed_datetime:
    type: [string, "null"]
    format: date-time
    description: When the coupon was used.
  created_datetime:
    type: [string, "null"]
    format: date-time
    description: When the coupon was created.
$defs:
  CouponCreate:
    title: CouponCreate
    type: object
    description: A new coupon.
    required: [code]
    properties:
      code:
        type: string
        minLength: 3
        description: The code to type at checkout.
      percent_off:
        type: integer
        minimum: 1
        maximum: 100
        description: Discount in percent.
"""

COUPON_RESOURCE = """\
# yaml-language-server: $schema=../../../generator/connectorgen/language/resource.schema.json
resource: coupons
title: Coupons
description: Discount codes, a resource the sandbox has never heard of.
tags: [coupons]
scopes:
  read: ["tickets:read"]
  write: ["tickets:write"]
operations:
  - tool: list_all_gorgias_coupons
    kind: list
    method: GET
    path: /api/coupons
    summary: List coupons
    description: Returns coupons page by page.
    response: {status: 200, envelope: cursor_list, schema: {$ref: ../schemas/coupon.yaml}}
  - tool: get_single_gorgias_coupon_by_id
    kind: get
    method: GET
    path: /api/coupons/{id}
    summary: Get a coupon
    description: Returns one coupon.
    parameters:
      - {name: id, in: path, required: true, description: Coupon id., schema: {type: integer, minimum: 1}}
    response: {status: 200, envelope: object, schema: {$ref: ../schemas/coupon.yaml}}
  - tool: create_a_gorgias_coupon
    kind: create
    method: POST
    path: /api/coupons
    summary: Create a coupon
    description: Creates a coupon.
    body: {content_type: application/json, schema: {$ref: "../schemas/coupon.yaml#/$defs/CouponCreate"}}
    response: {status: 201, envelope: object, schema: {$ref: ../schemas/coupon.yaml}}
  - tool: delete_a_gorgias_coupon_by_id
    kind: delete
    method: DELETE
    path: /api/coupons/{id}
    summary: Delete a coupon
    description: Deletes a coupon.
    parameters:
      - {name: id, in: path, required: true, description: Coupon id., schema: {type: integer, minimum: 1}}
    response: {status: 204, envelope: empty}
  - tool: gorgias_coupons_redeem
    kind: custom
    name: redeem
    method: PUT
    path: /api/coupons/redeem
    summary: Redeem coupons
    description: Marks coupons as redeemed.
    body: {content_type: application/json, schema: {$ref: "../schemas/tag.yaml#/$defs/TagBulkDelete"}}
    response: {status: 200, envelope: data_list, schema: {$ref: ../schemas/coupon.yaml}}
"""


def test_a_new_resource_is_served_without_sandbox_changes(tmp_path: Path) -> None:
    definition = tmp_path / "spec"
    shutil.copytree(REPO_ROOT / "spec" / "gorgias", definition)
    (definition / "schemas" / "coupon.yaml").write_text(COUPON_SCHEMA)
    (definition / "resources" / "coupons.yaml").write_text(COUPON_RESOURCE)
    connector_yaml = definition / "connector.yaml"
    connector_yaml.write_text(
        connector_yaml.read_text().replace("import_name: gorgias", "import_name: couponsdemo")
    )
    connector = build(definition)
    spec = build_spec(connector)
    handlers = {r["tool"]: r["handler"] for r in spec["routes"]}
    assert handlers["list_all_gorgias_coupons"] == "list"
    assert handlers["create_a_gorgias_coupon"] == "create"
    assert handlers["gorgias_coupons_redeem"] == "stamp_many"

    out = tmp_path / "pkg"
    for name, text in emit(connector).items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text if isinstance(text, str) else text.decode())
    (out / "python" / "couponsdemo" / "__init__.py").write_text("")
    sys.path.insert(0, str(out / "python"))
    try:
        demo = importlib.import_module("couponsdemo.sandbox")
        handle = demo.serve_in_thread(seed=1, rate_limit="off")
        try:
            with httpx.Client(base_url=handle.base_url, auth=(EMAIL, API_KEY)) as http:
                seeded = http.get("/api/coupons").json()
                assert len(seeded["data"]) >= 1 and seeded["meta"]["next_cursor"] is None
                created = http.post("/api/coupons", json={"code": "WELCOME10", "percent_off": 10})
                assert created.status_code == 201
                coupon = created.json()
                assert coupon["code"] == "WELCOME10" and coupon["redeemed_datetime"] is None
                assert http.post("/api/coupons", json={"code": "x"}).json()["error"]["data"] == {
                    "code": ["Shorter than minimum length 3."]
                }
                redeemed = http.put("/api/coupons/redeem", json={"ids": [coupon["id"]]}).json()[
                    "data"
                ]
                assert redeemed[0]["redeemed_datetime"]
                assert http.get(f"/api/coupons/{coupon['id']}").json()["redeemed_datetime"]
                assert http.delete(f"/api/coupons/{coupon['id']}").status_code == 204
                assert http.get(f"/api/coupons/{coupon['id']}").status_code == 404
        finally:
            handle.stop()
    finally:
        sys.path.remove(str(out / "python"))
        for name in [m for m in sys.modules if m.startswith("couponsdemo")]:
            del sys.modules[name]


def test_python_m_and_connectorgen_entry_points(tmp_path: Path) -> None:
    import subprocess

    for command in (
        [sys.executable, "-m", "gorgias.sandbox", "--help"],
        [sys.executable, "-m", "zendesk.sandbox", "--help"],
        [sys.executable, "-m", "connectorgen.cli", "sandbox", "gorgias", "--help"],
        [sys.executable, "-m", "connectorgen.cli", "sandbox", "zendesk", "--help"],
    ):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert "--error-rate" in result.stdout and "--drop-connection-rate" in result.stdout
    # with several connectors under spec/ the name cannot be left out
    unnamed = subprocess.run(
        [sys.executable, "-m", "connectorgen.cli", "sandbox", "--", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert unnamed.returncode == 2 and "gorgias, zendesk" in unnamed.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "gorgias.sandbox", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "loopback" in bad.stderr
