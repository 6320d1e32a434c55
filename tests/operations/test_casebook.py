"""The case table's loader and builder: per-connector folders, raw request bodies, known gaps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .build_cassettes import render
from .casebook import CaseError, _load_file, cases_dir, cassette_dir, connectors, load_cases

CASE = """
resource: uploads
cases:
  create_a_thing_upload:
    summary: Raw bytes with the file's own content type.
    arguments: {filename: notes.txt}
    exchanges:
      - request:
          method: POST
          url: https://acme.example.com/api/uploads?filename=notes.txt
          raw: {content_type: text/plain, text: "hello\\n"}
        response: {status: 201, json: {upload: {token: abc}}}
    expect: {}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "uploads.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_connector_has_its_case_and_cassette_folders() -> None:
    assert "gorgias" in connectors() and "zendesk" in connectors()
    for name in connectors():
        assert cases_dir(name).is_dir() and cassette_dir(name).is_dir()
        assert all(case.connector == name for case in load_cases(name).values())
        assert all(case.cassette.parent == cassette_dir(name) for case in load_cases(name).values())


def test_tools_are_unique_across_connectors() -> None:
    seen: dict[str, str] = {}
    for name in connectors():
        for tool in load_cases(name):
            assert tool not in seen, f"{tool} in {seen.get(tool)} and {name}"
            seen[tool] = name


def test_raw_body_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.operations.casebook.REPO_ROOT", tmp_path)
    case = _load_file("zendesk", _write(tmp_path, CASE))["create_a_thing_upload"]
    request = case.exchanges[0].request
    assert (request.raw, request.raw_content_type) == (b"hello\n", "text/plain")
    monkeypatch.setattr("tests.operations.build_cassettes.REPO_ROOT", tmp_path)
    built = yaml.safe_load(render(case))["interactions"][0]["request"]
    assert built["headers"] == {"Content-Type": ["text/plain"]}
    assert built["body"] == "hello\n"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('raw: {content_type: text/plain, text: "hello\\n"}', "raw: {text: hi}", "raw needs"),
        (
            'raw: {content_type: text/plain, text: "hello\\n"}',
            "raw: {content_type: text/plain, text: hi}\n          json: {a: 1}",
            "one body",
        ),
    ],
)
def test_bad_raw_bodies_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, message: str
) -> None:
    monkeypatch.setattr("tests.operations.casebook.REPO_ROOT", tmp_path)
    with pytest.raises(CaseError, match=message):
        _load_file("zendesk", _write(tmp_path, CASE.replace(old, new)))
