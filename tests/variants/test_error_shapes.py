"""Field-error shapes other than Gorgias's, end to end.

The fixture connector `tests/fixtures/rest_variants` declares its field errors as a list of
`{field, message, code}` objects; the tests derive the other declared shapes from it (a map of
object lists like Zendesk's `details`, a map of string lists like Gorgias's), generate each into a
temporary folder, start the generated sandbox in a subprocess and check that the generated client
keeps every field error of a 400, that the MCP server and the docs carry them, and that the
sandbox answers in the declared shape.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectorgen.cli import main
from tests.conftest import REPO_ROOT
from tests.probe import run_probe

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "rest_variants"

SHAPES: dict[str, dict[str, Any]] = {
    "object_list": {
        "message_path": "message",
        "field_errors": {"type": "object_list", "path": "errors", "field_key": "field",
                         "message_key": "message", "code_key": "code"},
    },
    "object_lists": {  # Zendesk: {"description": ..., "details": {"email": [{"description", "error"}]}}
        "message_path": "message",
        "field_errors": {"type": "object_lists", "path": "details", "message_key": "description",
                         "code_key": "error"},
    },
    "string_lists": {  # Gorgias: {"error": {"msg": ..., "data": {"email": ["..."]}}}
        "message_path": "error.msg",
        "field_errors": {"type": "string_lists", "path": "error.data"},
    },
}

#: Runs in the generated package: the sandbox's raw 400 body, the client's error, the MCP result.
PROBE = r"""
import asyncio, json, httpx
from restdemo import Restdemo, BadRequestError
from restdemo.sandbox import serve_in_thread
h = serve_in_thread(rate_limit="off", seed=1)
try:
    client = Restdemo(**h.client_kwargs(), rate_limit=False)
    listed = len(client.things.list(limit=2).first_page().items)
    body = {"size": 0}
    raw = httpx.post(h.base_url + "/api/things", json=body, auth=(h.api_key, "X")).json()
    try:
        client.request("POST", "/api/things", json=body)
        caught = None
    except BadRequestError as exc:
        from restdemo.mcp.server import ToolRunner, load_tools
        specs = load_tools()
        mcp_text = ToolRunner(specs).describe_exception(specs["create_a_restdemo_thing"], exc)
        caught = {"status": exc.status_code, "message": exc.message, "field_errors": exc.field_errors,
                  "mcp": mcp_text}
    print(json.dumps({"listed": listed, "raw": raw, "caught": caught}))
finally:
    h.stop()
"""


def _variant(root: Path, shape: str) -> Path:
    spec = root / "spec"
    shutil.copytree(FIXTURE, spec)
    connector = yaml.safe_load((spec / "connector.yaml").read_text())
    errors = connector["errors"]
    errors.pop("field_errors", None)
    errors.update(SHAPES[shape])
    (spec / "connector.yaml").write_text(yaml.safe_dump(connector, sort_keys=False))
    return spec


@pytest.fixture(scope="module", params=list(SHAPES))
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp(f"shape-{request.param}")
    spec = _variant(root, request.param)
    assert main(["generate", str(spec), "-o", str(root / "out")]) == 0
    return request.param, root


def _probe(root: Path) -> dict[str, Any]:
    result, _ = run_probe(PROBE, root / "out" / "python", cwd=root, timeout=120)
    return result


EXPECTED_FIELD_ERRORS = {
    "name": ["Missing data for required field."],
    "size": ["Must be greater than or equal to 1."],
}


def test_client_keeps_every_field_error_of_the_declared_shape(generated: tuple[str, Path]) -> None:
    shape, root = generated
    result = _probe(root)
    assert result["listed"] == 2  # the client authenticated against the sandbox
    raw = result["raw"]
    if shape == "object_list":
        assert raw["message"] == "Failed to create thing."
        assert sorted((e["field"], e["message"], e["code"]) for e in raw["errors"]) == sorted(
            (f, m, "invalid") for f, ms in EXPECTED_FIELD_ERRORS.items() for m in ms
        )
    elif shape == "object_lists":
        assert raw["details"] == {f: [{"description": m, "error": "invalid"} for m in ms]
                                  for f, ms in EXPECTED_FIELD_ERRORS.items()}
    else:
        assert raw["error"]["data"] == EXPECTED_FIELD_ERRORS
    caught = result["caught"]
    assert caught is not None
    assert caught["status"] == 400
    assert caught["message"] == "Failed to create thing."
    assert caught["field_errors"] == EXPECTED_FIELD_ERRORS
    assert caught["mcp"].splitlines()[1] == (
        "Field errors: `name`: Missing data for required field.; `size`: Must be greater than or equal to 1."
    )


def test_docs_name_the_declared_shape(generated: tuple[str, Path]) -> None:
    shape, root = generated
    index = (root / "out" / "docs" / "index.md").read_text()
    path = SHAPES[shape]["field_errors"]["path"]
    assert f"per-field messages at `{path}`" in index
    if shape == "object_list":
        assert "a list of objects, the field under `field`, the message under `message`, the code under `code`" in index
    elif shape == "object_lists":
        assert "a map of field name to a list of objects, the message under `description`" in index
