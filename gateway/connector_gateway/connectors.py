"""The installed generated connector packages, behind one facade.

Every package `connectorgen generate` writes advertises itself in the `connectorgen.connectors`
entry-point group (`<connector name> = "<import name>"`). `discover()` loads them; a `Connector`
knows, from the package's async client constructor and its `_spec.py` facts (`AUTH`,
`RATE_LIMITS`, `PLANS`, `SERVER_VARIABLES`, `OAUTH`), which credential fields an account takes,
how to validate them, which rate budget they select, and how to build a client.

The gateway never imports the generator: only the installed packages.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import httpx

__all__ = [
    "ENTRY_POINT_GROUP",
    "Connector",
    "CredentialsError",
    "OAuthInfo",
    "discover",
]

logger = logging.getLogger("connector_gateway.connectors")

ENTRY_POINT_GROUP = "connectorgen.connectors"

#: Constructor arguments that are account settings rather than auth credentials.
_NON_AUTH_FIELDS = ("plan", "token_expires_at")


class CredentialsError(ValueError):
    """Credentials an account cannot use. The message names fields, never their values."""


@dataclass(frozen=True)
class OAuthInfo:
    """The connector's OAuth2 authorization-code scheme (URL templates take server variables)."""

    scheme: str
    authorize_url: str
    token_url: str
    authorize_path: str
    token_path: str
    scopes: tuple[str, ...]
    offline_scope: str | None
    encoding: str  # "form" or "json": how the token endpoint takes its requests


@dataclass(frozen=True)
class _Scheme:
    name: str
    type: str
    fields: tuple[str, ...]
    secret: tuple[str, ...]
    budget: str | None

    def required(self) -> tuple[tuple[str, ...], ...]:
        """Alternatives: the scheme is usable when every field of one alternative is given."""
        if self.type == "oauth2_authorization_code":
            return (("access_token",), ("refresh_token",))
        return (self.fields,)


@dataclass(frozen=True)
class Connector:
    name: str
    title: str
    package: ModuleType = field(repr=False)

    # --- package facts --------------------------------------------------------------------

    @cached_property
    def spec(self) -> ModuleType:
        return importlib.import_module(f"{self.package.__name__}._spec")

    @cached_property
    def client_class(self) -> type:
        prefix = self.spec.PackageError.__name__.removesuffix("Error")
        cls = getattr(self.package, f"Async{prefix}", None)
        if not isinstance(cls, type):
            raise RuntimeError(f"{self.package.__name__} has no Async{prefix} client class")
        return cls

    @cached_property
    def _parameters(self) -> Mapping[str, inspect.Parameter]:
        return inspect.signature(self.client_class).parameters  # the constructor's, minus self

    @cached_property
    def _schemes(self) -> tuple[_Scheme, ...]:
        auth: Mapping[str, tuple[str, tuple[str, ...], tuple[str, ...], str | None]] = getattr(
            self.spec, "AUTH", {}
        )
        return tuple(
            _Scheme(name, type_, tuple(fields), tuple(secret), budget)
            for name, (type_, fields, secret, budget) in auth.items()
        )

    @cached_property
    def _server_variables(self) -> Mapping[str, tuple[str | None, str | None, str | None]]:
        return dict(self.spec.SERVER_VARIABLES)

    @cached_property
    def _docs(self) -> dict[str, str]:
        """Argument -> first sentence of its description in the constructor docstring."""
        doc = inspect.getdoc(vars(self.client_class).get("__init__")) or ""
        found: dict[str, str] = {}
        for match in re.finditer(r"^\s{0,8}(\w+): (.+?)(?=^\s{0,8}\w+: |\Z)", doc, re.M | re.S):
            text = " ".join(match.group(2).split())
            text = re.sub(r"\s*Falls back to `[A-Z0-9_]+`\.?", "", text).strip()
            found[match.group(1)] = text
        return found

    @cached_property
    def credential_fields(self) -> list[dict[str, Any]]:
        """Every field an account's credentials may hold: server variables, each auth scheme's
        constructor arguments, and account settings (plan, token expiry) the client takes."""
        out: list[dict[str, Any]] = []
        seen: set[str] = set()

        def add(name: str, secret: bool, **extra: Any) -> None:
            if name in seen or name not in self._parameters:
                return
            seen.add(name)
            out.append(
                {"name": name, "secret": secret, "description": self._docs.get(name, ""), **extra}
            )

        for name, (_env, pattern, default) in self._server_variables.items():
            add(name, False, kind="server_variable", pattern=pattern, default=default)
        for scheme in self._schemes:
            for name in scheme.fields:
                add(name, name in scheme.secret, kind="auth", scheme=scheme.name)
        if getattr(self.spec, "OAUTH", None):
            add("token_expires_at", False, kind="auth", scheme=self.spec.OAUTH["scheme"])
        if self._plans:
            add("plan", False, kind="setting", choices=sorted(self._plan_names()))
        return out

    @cached_property
    def _plans(self) -> Mapping[str, tuple[Mapping[str, int], str | None]]:
        return dict(getattr(self.spec, "PLANS", {}))

    def _plan_names(self) -> set[str]:
        return {plan for plans, _default in self._plans.values() for plan in plans}

    @cached_property
    def secret_fields(self) -> frozenset[str]:
        return frozenset(f["name"] for f in self.credential_fields if f["secret"])

    @cached_property
    def oauth(self) -> OAuthInfo | None:
        info = getattr(self.spec, "OAUTH", None)
        if not info:
            return None
        return OAuthInfo(
            scheme=str(info["scheme"]),
            authorize_url=str(info["authorize_url"]),
            token_url=str(info["token_url"]),
            authorize_path=str(info["authorize_path"]),
            token_path=str(info["token_path"]),
            scopes=tuple(info["scopes"]),
            offline_scope=info.get("offline_scope"),
            encoding=str(info.get("token_request_encoding", "form")),
        )

    @property
    def server_variables(self) -> list[str]:
        return list(self._server_variables)

    @cached_property
    def mcp_server_module(self) -> ModuleType:
        return importlib.import_module(f"{self.package.__name__}.mcp.server")

    @cached_property
    def unified_module(self) -> ModuleType | None:
        try:
            return importlib.import_module(f"{self.package.__name__}.unified")
        except ModuleNotFoundError:
            return None

    @cached_property
    def sandbox_module(self) -> ModuleType:
        return importlib.import_module(f"{self.package.__name__}.sandbox")

    # --- credentials ------------------------------------------------------------------------

    def _scheme_for(self, credentials: Mapping[str, Any]) -> _Scheme:
        """The auth scheme the credentials select (CredentialsError when none or ambiguous)."""
        given = {k for k, v in credentials.items() if v not in (None, "")}
        touched = [s for s in self._schemes if given & set(s.fields)]
        if not touched:
            raise CredentialsError(
                f"missing credentials for {self.name}: give " + self._alternatives()
            )
        if len(touched) > 1:
            # fields shared by two schemes (none today) are no conflict: keep those that are complete
            complete = [s for s in touched if any(set(r) <= given for r in s.required())]
            if len(complete) != 1:
                names = ", ".join(s.name for s in touched)
                raise CredentialsError(
                    f"credentials mix the fields of several auth schemes ({names}): give "
                    + self._alternatives()
                )
            touched = complete
        scheme = touched[0]
        if not any(set(r) <= given for r in scheme.required()):
            gaps: list[set[str]] = [set(r) - given for r in scheme.required()]
            closest = min(gaps, key=len)  # the alternative nearest to complete
            missing = sorted(closest)
            raise CredentialsError(
                f"missing credential fields for {self.name} ({scheme.name}): {', '.join(missing)}"
            )
        return scheme

    def _alternatives(self) -> str:
        parts = []
        for s in self._schemes:
            for req in s.required():
                parts.append(" and ".join(req) + f" ({s.name})")
        return ", or ".join(parts)

    def check_credentials(
        self, credentials: Mapping[str, Any], base_url: str | None = None
    ) -> None:
        """Raise CredentialsError unless the credentials (and base_url) can build a client.

        Unknown fields, missing fields, wrong types, server variables not matching their pattern
        and unknown plans are refused; messages name fields, never values."""
        self._validated(credentials, base_url)

    def _validated(
        self, credentials: Mapping[str, Any], base_url: str | None
    ) -> tuple[dict[str, Any], _Scheme]:
        if not isinstance(credentials, Mapping):
            raise CredentialsError("credentials must be a JSON object")
        known = {f["name"] for f in self.credential_fields}
        unknown = sorted(str(k) for k in credentials if k not in known)
        if unknown:
            raise CredentialsError(
                f"unknown credential fields for {self.name}: {', '.join(unknown)}"
                f" (expected some of: {', '.join(sorted(known))})"
            )
        values: dict[str, Any] = {}
        for key, value in credentials.items():
            if value is None:
                continue
            if key == "token_expires_at":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise CredentialsError("credential field token_expires_at must be a number")
                if not math.isfinite(value):
                    raise CredentialsError("credential field token_expires_at must be finite")
                values[key] = float(value)
                continue
            if not isinstance(value, str):
                raise CredentialsError(f"credential field {key} must be a string")
            if not value or value != value.strip() or any(c in value for c in "\r\n\0"):
                raise CredentialsError(
                    f"credential field {key} must be a non-empty string without surrounding"
                    " whitespace or line breaks"
                )
            values[key] = value
        scheme = self._scheme_for(values)
        for name, (_env, pattern, default) in self._server_variables.items():
            value = values.get(name)
            if value is None:
                if base_url is None and default is None:
                    raise CredentialsError(
                        f"missing credential field {name} (or give base_url) for {self.name}"
                    )
                continue
            if pattern and not re.fullmatch(pattern, value):
                raise CredentialsError(f"credential field {name} does not match {pattern}")
        if "plan" in values and values["plan"] not in self._plan_names():
            raise CredentialsError(
                f"credential field plan must be one of: {', '.join(sorted(self._plan_names()))}"
            )
        if base_url is not None:
            check_base_url(base_url)
        return values, scheme

    def create_client(
        self,
        credentials: Mapping[str, Any],
        base_url: str | None = None,
        *,
        http_client: httpx.AsyncClient,
        **options: Any,
    ) -> Any:
        """The package's async client for these credentials, on `http_client`, with client-side
        pacing off (the gateway's budget paces every request). `options` go to the constructor
        (max_retries, timeout, on_token_refresh...)."""
        values, _scheme = self._validated(credentials, base_url)
        # an explicit base URL always: the client never falls back to the gateway's environment
        # (a <CONNECTOR>_BASE_URL or <CONNECTOR>_SUBDOMAIN set for another purpose)
        url = base_url.rstrip("/") if base_url else self._server_url(values)
        kwargs: dict[str, Any] = {**values, "base_url": url, "http_client": http_client}
        kwargs.setdefault("rate_limit", False)
        kwargs.update(options)
        kwargs["rate_limit"] = options.get("rate_limit", False)
        try:
            return self.client_class(**kwargs)
        except self.spec.PackageError as exc:  # ConfigurationError: names arguments, not values
            raise CredentialsError(f"{self.name}: {type(exc).__name__}") from None

    def _server_url(self, values: Mapping[str, Any]) -> str:
        url = str(self.spec.SERVER_TEMPLATE)
        for name, (_env, _pattern, default) in self._server_variables.items():
            url = url.replace("{" + name + "}", str(values.get(name) or default))
        return url

    def base_url_for(self, credentials: Mapping[str, Any], base_url: str | None = None) -> str:
        """The API base URL an account uses: `base_url`, else the server template filled with
        the credentials' server variables (never the environment)."""
        values, _scheme = self._validated(credentials, base_url)
        return base_url.rstrip("/") if base_url else self._server_url(values)

    def auth_scheme(self, credentials: Mapping[str, Any]) -> str:
        """Name of the auth scheme the credentials select."""
        return self._validated(credentials, "http://placeholder.invalid")[1].name

    def rate_limit(self, credentials: Mapping[str, Any]) -> tuple[int, float] | None:
        """The declared budget `(requests, period in seconds)` for the auth scheme those
        credentials select, sized by their plan when the budget depends on one (None: none
        declared)."""
        found = self._declared(credentials)
        return None if found is None else (found[1], found[2])

    def rate_limit_kind(self, credentials: Mapping[str, Any]) -> str | None:
        """How the vendor counts that budget: `leaky_bucket` or `fixed_window`."""
        found = self._declared(credentials)
        return None if found is None else found[0]

    def _declared(self, credentials: Mapping[str, Any]) -> tuple[str, int, float] | None:
        values = {k: v for k, v in credentials.items() if v not in (None, "")}
        scheme = self._scheme_for(values)
        budget = scheme.budget
        declared = self.spec.RATE_LIMITS.get(budget) if budget else None
        if budget is None or declared is None:
            return None
        kind, requests, period = declared
        if budget in self._plans:
            plans, default = self._plans[budget]
            requests = plans.get(values.get("plan") or default or "", requests)
        return str(kind), int(requests), float(period)

    def __repr__(self) -> str:
        return f"Connector(name={self.name!r}, package={self.package.__name__!r})"


def check_base_url(base_url: str) -> None:
    if not isinstance(base_url, str):
        raise CredentialsError("base_url must be a string")
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        raise CredentialsError("base_url is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise CredentialsError("base_url must be an absolute http(s) URL")
    if url.query or url.fragment or url.userinfo:
        raise CredentialsError("base_url must not carry a query, fragment or user info")


def discover() -> dict[str, Connector]:
    """Every installed generated connector package, by connector name (sorted)."""
    found: dict[str, Connector] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in found:
            continue
        try:
            package = importlib.import_module(ep.value)
            spec = importlib.import_module(f"{ep.value}._spec")
        except Exception as exc:  # a broken install must not take the gateway down
            logger.warning("connector %s (%s) not loaded: %s", ep.name, ep.value, exc)
            continue
        if not hasattr(spec, "AUTH"):
            logger.warning(
                "connector %s not loaded: its package predates the gateway (regenerate it)",
                ep.name,
            )
            continue
        found[ep.name] = Connector(name=ep.name, title=str(spec.TITLE), package=package)
    return found
