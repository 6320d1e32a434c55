"""Error answers replayed through the generated client of every connector: the typed error class
and its fields (status_code, message, field_errors, method, path), and the retry rules (429 with
Retry-After is retried, a 5xx GET is retried, a 5xx POST is not).

The scenarios of a connector are in `tests/operations/errors/<connector>.yaml`, one per cassette
`cassettes/operation_errors/<connector>/<scenario>.yaml` (hand-written from the vendor's
documented error bodies, never re-recorded: the conftest skips these tests when recording):

```yaml
scenarios:
  test_404_not_found:
    tool: get_single_zendesk_ticket_by_id   # the operation called
    arguments: {ticket_id: 404404}          # flat arguments, as in the case table
    client: {rate_limit: false}             # extra client options (optional)
    match_body: false                       # match the requests without their body (uploads)
    calls:                                  # in order: `typed` (resource method) or `invoke`
      - via: typed
        raises: {class: NotFoundError, status: 404, message: Not found, field_errors: {},
                 method: GET, path: /api/v2/tickets/404404, text: "substring of str(error)"}
      - via: invoke
        returns: {type: Ticket, values: {id: 35436}}   # a success (after a retry)
    requests: 2                             # requests sent in all (retries included)
    methods: [GET, GET]                     # their methods, in order (optional)
    log: "retrying GET /api/v2/tickets ..."  # a line the client logs (optional)
    rate_limit_used: 1                      # client.rate_limit_status.used afterwards (optional)
```
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import CONNECTORS, Recorder, connector, package
from .test_operations import arguments, call_typed, check

pytestmark = pytest.mark.hand_written_only

HERE = Path(__file__).resolve().parent
NO_BODY_MATCH = ["method", "scheme", "host", "port", "path", "query"]
SCENARIO_KEYS = {
    "summary",
    "tool",
    "arguments",
    "client",
    "match_body",
    "calls",
    "requests",
    "methods",
    "log",
    "rate_limit_used",
}
RAISES_KEYS = {"class", "status", "message", "field_errors", "method", "path", "text"}


class _Args:
    """Just enough of a Case for `arguments()`."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.arguments = raw


def scenarios(name: str) -> dict[str, dict[str, Any]]:
    path = HERE / "errors" / f"{name}.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = data["scenarios"]
    for test, raw in out.items():
        assert not set(raw) - SCENARIO_KEYS, f"{path.name}: {test}: {set(raw) - SCENARIO_KEYS}"
        for call in raw["calls"]:
            assert call["via"] in ("typed", "invoke"), f"{path.name}: {test}: {call}"
            assert not set(call.get("raises") or {}) - RAISES_KEYS, f"{path.name}: {test}"
    return out


def _params() -> list[Any]:
    params = []
    for name in CONNECTORS:
        for test, raw in scenarios(name).items():
            vcr = (
                pytest.mark.vcr
                if raw.get("match_body", True)
                else pytest.mark.vcr(match_on=NO_BODY_MATCH)
            )
            marks = [vcr, pytest.mark.default_cassette(f"{name}/{test}")]
            params.append(pytest.param(name, test, marks=marks, id=f"{name}-{test}"))
    return params


def check_error(err: Any, expected: dict[str, Any], pkg: Any, where: str) -> None:
    assert type(err).__name__ == expected["class"], f"{where}: {type(err).__name__}"
    assert isinstance(err, pkg.APIError), where
    for key, attr in (
        ("status", "status_code"),
        ("message", "message"),
        ("field_errors", "field_errors"),
        ("method", "method"),
        ("path", "path"),
    ):
        if key in expected:
            assert getattr(err, attr) == expected[key], f"{where}: {attr} {getattr(err, attr)!r}"
    if "text" in expected:
        assert expected["text"] in str(err), f"{where}: {str(err)!r}"


@pytest.mark.parametrize(("connector", "scenario"), _params())
def test_error_scenario(
    connector: str,
    scenario: str,
    make_client: Any,
    recorder: Recorder,
    vcr: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = connector
    raw = scenarios(name)[scenario]
    pkg = package(name)
    op = _ir(name).operation(raw["tool"])
    client = make_client(name, **(raw.get("client") or {}))
    args = arguments(_Args(dict(raw.get("arguments") or {})))  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger=pkg.__name__):
        for number, call in enumerate(raw["calls"]):
            where = f"{scenario} call {number} ({call['via']})"

            def run(call: dict[str, Any] = call) -> Any:
                if call["via"] == "typed":
                    return call_typed(name, client, op, args)
                return client.invoke(raw["tool"], args)

            if "raises" in call:
                with pytest.raises(pkg.APIError) as caught:
                    run()
                check_error(caught.value, call["raises"], pkg, where)
            else:
                check(run(), call.get("returns") or {}, where, pkg.models)
    assert len(recorder.requests) == raw["requests"], [r.url for r in recorder.requests]
    if "methods" in raw:
        assert [r.method for r in recorder.requests] == raw["methods"]
    if "log" in raw:
        assert raw["log"] in caplog.text
    if "rate_limit_used" in raw:
        assert client.rate_limit_status is not None
        assert client.rate_limit_status.used == raw["rate_limit_used"]
    assert vcr.all_played, f"{vcr.play_count} of {len(vcr.data)} interactions played"


def _ir(name: str) -> Any:
    return connector(name)


@pytest.mark.parametrize("connector", CONNECTORS)
def test_every_scenario_has_its_cassette(connector: str) -> None:
    """Scenarios of the table and hand-written cassettes are the same names."""
    assert scenarios(connector), (
        f"no error scenarios: write tests/operations/errors/{connector}.yaml"
    )
    folder = HERE.parents[1] / "cassettes" / "operation_errors" / connector
    files = {p.stem for p in folder.glob("*.yaml")}
    assert files == set(scenarios(connector)), f"cassettes/operation_errors/{connector}/"
