"""Every generated package advertises itself to the gateway (entry-point group connectorgen.connectors)."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.parametrize("connector", ["gorgias", "zendesk"])
def test_generated_pyproject_declares_the_connector_entry_point(connector: str) -> None:
    pyproject = REPO_ROOT / "generated" / connector / "python" / "pyproject.toml"
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    group = data["project"]["entry-points"]["connectorgen.connectors"]
    assert group == {connector: connector}
    installed = {ep.name: ep.value for ep in entry_points(group="connectorgen.connectors")}
    assert installed[connector] == connector


@pytest.mark.parametrize("connector", ["gorgias", "zendesk"])
def test_spec_module_states_auth_schemes_and_oauth(connector: str) -> None:
    import importlib

    spec = importlib.import_module(f"{connector}._spec")
    secret_field = {"gorgias": "api_key", "zendesk": "api_token"}[connector]
    basic = next(row for row in spec.AUTH.values() if row[0] == "http_basic")
    assert basic[1] == ("email", secret_field) and basic[2] == (secret_field,)
    assert basic[3] in spec.RATE_LIMITS
    assert (
        spec.OAUTH["token_path"]
        == {"gorgias": "/oauth/token", "zendesk": "/oauth/tokens"}[connector]
    )
