"""Basic auth variants, end to end: a fixed password and a user-name template.

`tests/fixtures/rest_variants` takes the API key as the Basic user name and the fixed password `X`;
a variant declares Zendesk's `username_template: "{email}/token"` with an API token as the
password. Each is generated into a temporary folder and its sandbox started in a subprocess: the
generated client authenticates (from arguments and from the environment), the sandbox accepts only
the declared form, the secret is never shown, and OpenAPI and the docs say what is sent.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
import yaml

from connectorgen.cli import main
from tests.conftest import REPO_ROOT
from tests.probe import run_probe

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "rest_variants"

TEMPLATED_BASIC = {
    "type": "http_basic",
    "description": "The e-mail address followed by /token, and an API token.",
    "username": {"param": "email", "env": "RESTDEMO_EMAIL", "description": "Agent e-mail."},
    "username_template": "{email}/token",
    "password": {"param": "api_token", "env": "RESTDEMO_API_TOKEN", "description": "API token.", "secret": True},
    "rate_limit": "standard",
}

BEARER = {
    "type": "http_bearer",
    "description": "A static API token.",
    "token": {"param": "api_token", "env": "RESTDEMO_API_TOKEN", "description": "API token.", "secret": True},
    "rate_limit": "standard",
}

API_KEYS = {
    "api_key_header": {
        "type": "api_key", "description": "An API key in a header.", "in": "header", "name": "X-Api-Key", "prefix": "Key ",
        "key": {"param": "api_key", "env": "RESTDEMO_API_KEY", "description": "API key.", "secret": True},
        "rate_limit": "standard",
    },
    "api_key_query": {
        "type": "api_key", "description": "An API key in the query.", "in": "query", "name": "api_key",
        "key": {"param": "api_key", "env": "RESTDEMO_API_KEY", "description": "API key.", "secret": True},
        "rate_limit": "standard",
    },
}

PROBE = r"""
import json, logging, os, sys, httpx
from restdemo import Restdemo, AuthenticationError, ConfigurationError
from restdemo._auth import Auth
BasicAuth = BearerAuth = ApiKeyAuth = Auth
if sys.argv[1].startswith("api_key"):
    from restdemo._auth import ApiKeyAuth
elif sys.argv[1] == "bearer":
    from restdemo._auth import BearerAuth
else:
    from restdemo._auth import BasicAuth
from restdemo.sandbox import serve_in_thread
variant = sys.argv[1]
h = serve_in_thread(seed=1, rate_limit="off")
try:
    client = Restdemo(**h.client_kwargs(), rate_limit=False, max_retries=0)
    listed = len(client.things.list(limit=2).first_page().items)
    try:
        Restdemo(base_url=h.base_url)
        no_creds = None
    except ConfigurationError as exc:
        no_creds = str(exc)
    os.environ.update(h.env())
    from_env = len(Restdemo(rate_limit=False).things.list(limit=1).first_page().items)
    url = h.base_url + "/api/things"
    logs = []
    class Keep(logging.Handler):
        def emit(self, record): logs.append(self.format(record))
    logging.getLogger().addHandler(Keep())
    logging.getLogger().setLevel(logging.DEBUG)
    if variant.startswith("api_key"):
        key = h.api_key
        if variant == "api_key_header":
            forms = {"declared": ({"X-Api-Key": "Key " + key}, {}), "no_prefix": ({"X-Api-Key": key}, {}),
                     "in_query": ({}, {"X-Api-Key": "Key " + key}), "authorization": ({"Authorization": "Key " + key}, {})}
        else:
            forms = {"declared": ({}, {"api_key": key}), "other_name": ({}, {"key": key}),
                     "in_header": ({"api_key": key}, {}), "authorization": ({"Authorization": "Key " + key}, {})}
        wrong = {"api_key": "wrong-secret"}
        auth = ApiKeyAuth("s3cret-key")
        req = httpx.Request("GET", "https://x.example.com/api/things?limit=1")
        auth.apply(req)
        sent_form = [req.headers.get("X-Api-Key"), str(req.url)]
    elif variant == "bearer":
        tries = {"declared": None, "basic_key": (h.api_key, "X"), "wrong_token": None}
        headers = {"declared": "Bearer " + h.api_key, "wrong_token": "Bearer wrong-secret", "basic_key": None}
        wrong = {"api_token": "wrong-secret"}
        auth = BearerAuth("s3cret-key")
    elif variant == "fixed_password":
        tries = {"declared": (h.api_key, "X"), "other_password": (h.api_key, "Y"), "email_and_key": (h.email, h.api_key)}
        wrong = {"api_key": "wrong-secret"}
        auth = BasicAuth("s3cret-key", "X")
    else:
        tries = {"declared": (h.email + "/token", h.api_key), "plain_email": (h.email, h.api_key)}
        wrong = {"email": h.email, "api_token": "wrong-secret"}
        auth = BasicAuth("me@acme.com", "s3cret-key")
    if variant.startswith("api_key"):
        statuses = {name: httpx.get(url, headers=hd, params=q).status_code for name, (hd, q) in forms.items()}
    elif variant == "bearer":
        statuses = {name: httpx.get(url, auth=pair, headers={"Authorization": headers[name]} if headers[name] else {}).status_code
                    for name, pair in tries.items()}
    else:
        statuses = {name: httpx.get(url, auth=pair).status_code for name, pair in tries.items()}
    try:
        Restdemo(base_url=h.base_url, max_retries=0, **wrong).things.list().first_page()
        refused = None
    except AuthenticationError as exc:
        refused = [exc.status_code, str(exc) + repr(exc) + repr(exc.__dict__)]
    print(json.dumps({"listed": listed, "no_creds": no_creds, "from_env": from_env, "statuses": statuses, "refused": refused,
                      "header": auth.authorization(), "repr": repr(auth),
                      "sent_form": sent_form if variant.startswith("api_key") else None, "logs": "\n".join(logs)}))
finally:
    h.stop()
"""


@pytest.fixture(scope="module", params=["fixed_password", "username_template", "bearer", "api_key_header", "api_key_query"])
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp(f"auth-{request.param}")
    spec = root / "spec"
    shutil.copytree(FIXTURE, spec)
    if request.param == "username_template":
        connector = yaml.safe_load((spec / "connector.yaml").read_text())
        connector["auth"]["basic"] = TEMPLATED_BASIC
        (spec / "connector.yaml").write_text(yaml.safe_dump(connector, sort_keys=False))
    if request.param in API_KEYS:  # the API key scheme replaces Basic
        connector = yaml.safe_load((spec / "connector.yaml").read_text())
        connector["auth"] = {"key": API_KEYS[request.param], "oauth2": connector["auth"]["oauth2"]}
        (spec / "connector.yaml").write_text(yaml.safe_dump(connector, sort_keys=False))
    if request.param == "bearer":  # the static token replaces Basic
        connector = yaml.safe_load((spec / "connector.yaml").read_text())
        connector["auth"] = {"token": BEARER, "oauth2": connector["auth"]["oauth2"]}
        (spec / "connector.yaml").write_text(yaml.safe_dump(connector, sort_keys=False))
    assert main(["generate", str(spec), "-o", str(root / "out")]) == 0
    return request.param, root


def test_client_authenticates_as_declared(generated: tuple[str, Path]) -> None:
    variant, root = generated
    result, _ = run_probe(PROBE, root / "out" / "python", variant, cwd=root, env_prefix="RESTDEMO_",
                          timeout=120)
    assert (result["listed"], result["from_env"]) == (2, 1)
    assert result["refused"][0] == 401 and "wrong-secret" not in result["refused"][1]
    assert "s3cret-key" not in result["repr"]
    assert "wrong-secret" not in result["logs"] and result["logs"]
    if variant == "api_key_header":
        assert result["statuses"] == {"declared": 200, "no_prefix": 401, "in_query": 401, "authorization": 401}
        assert result["sent_form"] == ["Key s3cret-key", "https://x.example.com/api/things?limit=1"]
        assert result["repr"] == "ApiKeyAuth(api_key=<hidden>)"
        assert result["no_creds"].startswith("no credentials: pass api_key=, or access_token= (or set RESTDEMO_API_KEY)")
    elif variant == "api_key_query":
        assert result["statuses"] == {"declared": 200, "other_name": 401, "in_header": 401, "authorization": 401}
        assert result["sent_form"] == [None, "https://x.example.com/api/things?limit=1&api_key=s3cret-key"]
        assert result["repr"] == "ApiKeyAuth(api_key=<hidden>)"
        assert "/api/things" in result["refused"][1]
        assert "HTTP Request: GET" in result["logs"] and "api_key=" not in result["logs"]
    elif variant == "bearer":
        assert result["statuses"] == {"declared": 200, "basic_key": 401, "wrong_token": 401}
        assert result["header"] == "Bearer s3cret-key"
        assert result["repr"] == "BearerAuth(api_token=<hidden>)"
        assert result["no_creds"].startswith("no credentials: pass api_token=, or access_token= (or set RESTDEMO_API_TOKEN)")
    elif variant == "fixed_password":
        assert result["statuses"] == {"declared": 200, "other_password": 401, "email_and_key": 401}
        assert result["header"] == "Basic " + base64.b64encode(b"s3cret-key:X").decode()
        assert result["no_creds"].startswith("no credentials: pass api_key=, or access_token=")
    else:
        assert result["statuses"] == {"declared": 200, "plain_email": 401}
        assert result["header"] == "Basic " + base64.b64encode(b"me@acme.com/token:s3cret-key").decode()
        assert result["no_creds"].startswith("no credentials: pass email= and api_token=, or access_token=")


def test_openapi_and_docs_show_what_is_sent(generated: tuple[str, Path]) -> None:
    variant, root = generated
    openapi = json.loads((root / "out" / "openapi" / "restdemo.openapi.json").read_text())
    docs = (root / "out" / "docs" / "index.md").read_text()
    if variant in API_KEYS:
        scheme = openapi["components"]["securitySchemes"]["key"]
        declared = API_KEYS[variant]
        assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", declared["in"], declared["name"])
        assert "API key (`key`)" in docs
        if variant == "api_key_header":
            assert "`X-Api-Key: Key <api_key>`" in docs
        else:
            assert "`api_key=<api_key>`" in docs
        return
    if variant == "bearer":
        scheme = openapi["components"]["securitySchemes"]["token"]
        assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
        assert "`Authorization: Bearer <api_token>`" in docs and "HTTP Bearer token (`token`)" in docs
        return
    description = openapi["components"]["securitySchemes"]["basic"]["description"]
    docs = (root / "out" / "docs" / "index.md").read_text()
    if variant == "fixed_password":
        assert description.endswith("Password: Always X. (always `X`)")
        assert "`Authorization: Basic base64(<api_key>:X)`" in docs
    else:
        assert "(sent as `{email}/token`)" in description
        assert "`Authorization: Basic base64(<email>/token:<api_token>)`" in docs
