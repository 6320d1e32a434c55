"""Gateway settings: one frozen object, from GATEWAY_* environment variables plus overrides."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

ENV_PREFIX = "GATEWAY_"


class SettingsError(ValueError):
    """A setting is missing or invalid (the message says which and how to fix it)."""


def _hidden(value: object) -> str:
    return "None" if value is None else "'[hidden]'"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///./gateway.db"
    redis_url: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    admin_token: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8800
    workers: int = 1
    public_url: str | None = None
    audit_retention_days: int = 90
    cache_seconds: float = 0.5
    oauth_apps: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    log_level: str = "info"
    budget_max_wait: float = 60.0
    """Seconds a request may queue for its account's rate budget; longer -> 429 from the gateway."""
    rate_limits: str = "declared"
    """`declared`: pace every account to its connector's declared budget; `off`: no pacing (only
    for sandboxes and benchmarks, whose upstream does not limit)."""

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise SettingsError("workers must be at least 1")
        if self.workers > 1 and not self.redis_url:
            raise SettingsError(
                f"{self.workers} workers need a shared Redis: give --redis-url "
                "(or GATEWAY_REDIS_URL), or run a single worker"
            )
        if not 1 <= self.port <= 65535 and self.port != 0:
            raise SettingsError(f"port {self.port} is out of range")
        if self.audit_retention_days < 1:
            raise SettingsError("audit_retention_days must be at least 1")
        if self.cache_seconds < 0:
            raise SettingsError("cache_seconds must not be negative")
        if self.budget_max_wait < 0:
            raise SettingsError("budget_max_wait must not be negative")
        if self.rate_limits not in ("declared", "off"):
            raise SettingsError("rate_limits must be 'declared' or 'off'")
        if self.public_url is not None and not re.match(r"^https?://[^/\s]+", self.public_url):
            raise SettingsError(
                f"public_url must be an http(s) URL like https://gateway.example.com, "
                f"got {self.public_url[:60]!r}"
            )
        if not re.match(r"^(sqlite|postgres|postgresql)(\+\w+)?://", self.database_url):
            raise SettingsError(
                "database_url must start with sqlite:/// or postgresql:// "
                f"(got {self.database_url.split(':', 1)[0]!r})"
            )

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("secret_key", "admin_token"):
                shown.append(f"{f.name}={_hidden(value)}")
            elif f.name == "oauth_apps":
                shown.append(f"oauth_apps={sorted(value)}")
            elif f.name in ("database_url", "redis_url") and value:
                shown.append(f"{f.name}={_without_password(value)!r}")
            else:
                shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @property
    def base_url(self) -> str:
        """Base of the URLs the gateway hands out (server URLs, OAuth redirects)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    def require_secret_key(self) -> str:
        if not self.secret_key:
            raise SettingsError(
                "GATEWAY_SECRET_KEY is not set: it encrypts account credentials "
                "(a Fernet key, or any string of at least 32 characters)"
            )
        return self.secret_key

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from GATEWAY_* variables; keyword overrides (None = not given) win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        converters: dict[str, Any] = {
            "database_url": str,
            "redis_url": str,
            "secret_key": str,
            "admin_token": str,
            "host": str,
            "port": int,
            "workers": int,
            "public_url": str,
            "audit_retention_days": int,
            "cache_seconds": float,
            "log_level": str,
            "budget_max_wait": float,
            "rate_limits": str,
        }
        for name, convert in converters.items():
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            try:
                values[name] = convert(raw)
            except ValueError:
                raise SettingsError(
                    f"{ENV_PREFIX}{name.upper()} must be a {convert.__name__}, got {raw!r}"
                ) from None
        apps: dict[str, tuple[str, str]] = {}
        pattern = re.compile(rf"^{ENV_PREFIX}OAUTH_(.+)_CLIENT_ID$")
        for key, client_id in env.items():
            match = pattern.match(key)
            if match and client_id:
                name = match.group(1)
                secret = env.get(f"{ENV_PREFIX}OAUTH_{name}_CLIENT_SECRET", "")
                apps[name.lower()] = (client_id, secret)
        values["oauth_apps"] = apps
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The GATEWAY_* variables that rebuild these settings (for worker processes)."""
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "oauth_apps":
                for connector, (client_id, secret) in value.items():
                    env[f"{ENV_PREFIX}OAUTH_{connector.upper()}_CLIENT_ID"] = client_id
                    env[f"{ENV_PREFIX}OAUTH_{connector.upper()}_CLIENT_SECRET"] = secret
            elif value is not None:
                env[ENV_PREFIX + f.name.upper()] = str(value)
        return env


def _without_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
