"""Mapping-language constructs a second API needs, checked on the compiled IR (overlays of the
Gorgias mappings) and on the generated run-time helpers: list filters carried in path
parameters, methods choosing their operation from the input (`cases`), sort orders with a
separate direction parameter, ordered scans without a `:desc` suffix, context values from the
connector's server variables and the paginator's own cursor/limit argument names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from connectorgen import unified_ir as u
from connectorgen.pipeline import validate
from gorgias import Gorgias
from gorgias.unified import Unified, UnsupportedFilterError, methods
from gorgias.unified._runtime import MethodSpec, QueryPlan, base_context, page_args, q_scan, q_sort
from tests.unified.test_unified_rules import overlay

COMMENTS = "unified_mappings/gorgias/ticketing/comments.yaml"
TICKETS = "unified_mappings/gorgias/ticketing/tickets.yaml"


def compile_with(tmp_path: Path, path: str, old: str, new: str) -> tuple[Any, list[str]]:
    root = overlay(None, tmp_path)
    target = root / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new))
    cwd = Path.cwd()
    os.chdir(root)
    try:
        connector, diagnostics = validate(Path("spec/gorgias"))
    finally:
        os.chdir(cwd)
    return connector, [d.render() for d in diagnostics]


def list_block(text: str) -> str:
    start = text.index("\nmethods:\n")
    return text[text.index("\n  list:\n", start) + 1:text.index("\n  get:\n", start) + 1]


def test_a_path_parameter_carries_a_list_filter_and_is_required(tmp_path: Path) -> None:
    old = list_block((Path(__file__).parents[2] / COMMENTS).read_text())
    connector, errors = compile_with(tmp_path, COMMENTS, old, (
        "  list:\n    operation: list_all_gorgias_ticket_messages\n"
        "    query:\n      ticket_id: {param: ticket_id, as: integer}\n"))
    assert errors == []
    method = connector.unified.resource("ticketing", "comments").method("list")
    (query,) = method.query
    assert (query.filter, query.param, query.required, query.convert) == ("ticket_id", "ticket_id", True, "integer")
    assert (method.cursor_arg, method.limit_arg) == ("cursor", "limit")
    assert "ticket_id" not in method.unsupported_filters


def test_a_path_filter_cannot_be_optional(tmp_path: Path) -> None:
    old = list_block((Path(__file__).parents[2] / COMMENTS).read_text())
    _, errors = compile_with(tmp_path, COMMENTS, old, (
        "  list:\n    operation: list_all_gorgias_ticket_messages\n"
        "    query:\n      ticket_id: {param: ticket_id, required: false}\n"))
    assert len(errors) == 1
    assert "error[mapping-path-filter]: 'ticket_id' goes into the path of 'list_all_gorgias_ticket_messages'" in errors[0]


def test_sort_with_a_separate_direction_parameter_and_a_scan_without_suffix(tmp_path: Path) -> None:
    old = list_block((Path(__file__).parents[2] / TICKETS).read_text())
    connector, errors = compile_with(tmp_path, TICKETS, old, (
        "  list:\n    operation: list_all_gorgias_view_items\n"
        "    query:\n"
        "      collection_id: {param: view_id, as: integer}\n"
        "      updated_after:\n"
        "        sorted_scan: {with: {order_by: \"updated_datetime:desc\", direction: next}, order: desc,"
        " field: updated_datetime, op: \">=\"}\n"
        "    sort_by:\n      param: order_by\n"
        "      fields: {updated_at: \"updated_datetime:asc\"}\n"
        "      direction: {param: direction, asc: prev, desc: next}\n"
        "    response:\n      id: {from: id, as: string}\n      name: subject\n"
        "      updated_at: {from: updated_datetime, as: datetime}\n      remote_data: $\n"))
    assert errors == []
    method = connector.unified.resource("ticketing", "tickets").method("list")
    assert method.sort == u.SortMapping("order_by", (("updated_at", "updated_datetime:asc", "updated_datetime:asc"),),
                                        "direction", ("prev", "next"))
    scan = next(q for q in method.query if isinstance(q, u.SortedScan))
    assert (scan.args, scan.order, scan.op) == ((("order_by", "updated_datetime:desc"), ("direction", "next")), "desc", ">=")


def test_direction_values_and_scan_order_are_checked(tmp_path: Path) -> None:
    old = list_block((Path(__file__).parents[2] / TICKETS).read_text())
    _, errors = compile_with(tmp_path, TICKETS, old, (
        "  list:\n    operation: list_all_gorgias_view_items\n"
        "    query:\n"
        "      collection_id: {param: view_id, as: integer}\n"
        "      updated_after:\n"
        "        sorted_scan: {with: {order_by: \"updated_datetime:desc\"}, order: asc, field: updated_datetime, op: \">=\"}\n"
        "    sort_by:\n      param: order_by\n"
        "      fields: {updated_at: {asc: \"updated_datetime:asc\", desc: \"updated_datetime:desc\"}}\n"
        "      direction: {param: direction, asc: up}\n"
        "    response:\n      id: {from: id, as: string}\n      remote_data: $\n"))
    rules = sorted(e.split("error[", 1)[1].split("]", 1)[0] for e in errors)
    assert rules == ["mapping-bad-expression", "mapping-enum-coverage", "mapping-enum-coverage", "mapping-sort-direction"]
    assert any("op '>=' stops early only on a descending order" in e for e in errors)
    assert any('"up" is not a value of \'direction\'' in e for e in errors)


def test_context_values_are_the_connector_server_variables(tmp_path: Path) -> None:
    old = 'ticket_url: {template: "https://{context.subdomain}.gorgias.com/app/ticket/{id}"}'
    _, errors = compile_with(tmp_path, TICKETS, old, 'ticket_url: {template: "https://{context.region}.x/{id}"}')
    assert len(errors) == 1
    assert "error[mapping-unknown-source]: unknown context value 'region'" in errors[0]
    assert "known context values: base_url, input, subdomain" in errors[0]


def test_server_variables_come_from_the_base_url_unless_given() -> None:
    template = "https://{subdomain}.example.com/api/v2"
    assert base_context("https://acme.example.com/api/v2", {"subdomain": None}, template) == {
        "subdomain": "acme", "base_url": "https://acme.example.com/api/v2"}
    assert base_context("http://127.0.0.1:8400", {"subdomain": None}, template)["subdomain"] is None
    assert base_context("http://127.0.0.1:8400", {"subdomain": "given"}, template)["subdomain"] == "given"
    client = Gorgias(subdomain="acme", email="a@b.c", api_key="k")
    try:
        assert Unified(client)._runner.context["subdomain"] == "acme"
        assert Unified(client, subdomain="other")._runner.context["subdomain"] == "other"
    finally:
        client.close()


def test_pages_use_the_paginator_argument_names() -> None:
    spec = MethodSpec(tool="t", kind="list", operation="op", request=lambda b, c: {}, response=None, model=None,
                      inputs=(), required=(), cursor_arg="page[after]", limit_arg="page[size]")
    assert page_args(spec, QueryPlan({"sort": "-updated_at"}), "abc", 25) == {
        "sort": "-updated_at", "page[after]": "abc", "page[size]": 25}
    single = MethodSpec(tool="t", kind="list", operation="op", request=lambda b, c: {}, response=None, model=None,
                        inputs=(), required=())
    assert page_args(single, QueryPlan(), None, 25) == {}
    assert methods.TICKETING_TICKETS_LIST.cursor_arg == "cursor"


def test_scans_and_sorts_agree_on_their_arguments() -> None:
    table = {"updated_at": ("updated_at", "-updated_at")}
    plan = QueryPlan()
    q_scan("t", plan, "updated_after", "2026-01-01T00:00:00Z", {"sort": "-updated_at"}, ("updated_at",), ">=")
    assert plan.args == {"sort": "-updated_at"}
    q_sort("t", plan, "sort", "updated_at", "desc", table, frozenset(), "X")
    assert plan.args == {"sort": "-updated_at"}
    with pytest.raises(UnsupportedFilterError):
        q_sort("t", plan, "sort", "updated_at", "asc", table, frozenset(), "X")
    separate = QueryPlan()
    q_sort("t", separate, "sort_by", "updated_at", "desc", {"updated_at": ("updated_at", "updated_at")},
           frozenset(), "X", direction=("sort_order", ("asc", "desc")))
    assert separate.args == {"sort_by": "updated_at", "sort_order": "desc"}
    scanned = QueryPlan()
    q_scan("t", scanned, "updated_after", "2026-01-01T00:00:00Z", {"sort_by": "updated_at", "sort_order": "desc"},
           ("updated_at",), ">=")
    with pytest.raises(UnsupportedFilterError):
        q_sort("t", scanned, "sort_by", "updated_at", "asc", {"updated_at": ("updated_at", "updated_at")},
               frozenset(), "X", direction=("sort_order", ("asc", "desc")))
