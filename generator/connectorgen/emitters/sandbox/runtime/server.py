"""Run the sandbox: blocking (`serve`) or in a background thread (`serve_in_thread`)."""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import Any

from ._spec import SPEC
from .app import Sandbox
from .options import SandboxOptions
from .store import DataFileError


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto is TCP
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app: Sandbox, options: SandboxOptions, *, embedded: bool = False) -> Any:
    import uvicorn

    extra: dict[str, Any] = {}
    if embedded:
        # inside another program (tests, an MCP server started with `--sandbox` on stdio): leave its logging
        # configuration alone and never write to stdout
        extra["log_config"] = None
    config = uvicorn.Config(
        app,
        log_level=options.log_level,
        access_log=options.log_level in ("info", "debug", "trace") and not embedded,
        lifespan="on",
        http="h11",
        ws="none",
        loop="asyncio",
        timeout_graceful_shutdown=2,
        **extra,
    )
    return uvicorn.Server(config)


class SandboxHandle:
    """A sandbox running in a background thread: `base_url`, the credentials, `stop()`."""

    def __init__(self, app: Sandbox, server: Any, thread: threading.Thread, base_url: str) -> None:
        self.app = app
        self.server = server
        self.thread = thread
        self.base_url = base_url
        self.options = app.options

    @property
    def store(self) -> Any:
        return self.app.store

    @property
    def email(self) -> str:
        return self.options.email

    @property
    def api_key(self) -> str:
        return self.options.api_key

    @property
    def token(self) -> str:
        return self.options.token

    @property
    def oauth(self) -> Any:
        """The OAuth2 authorization server (`.stats()`, `.revoke_grant()`), or None when the API
        declares no OAuth2 scheme."""
        return self.app.oauth

    def oauth_app(self) -> dict[str, str]:
        """The sandbox's OAuth2 app and endpoints: client_id, client_secret, authorize_url, token_url."""
        oauth = self.app.oauth
        if oauth is None:
            raise LookupError("this API declares no OAuth2 scheme")
        return {
            "client_id": self.options.oauth_client_id,
            "client_secret": self.options.oauth_client_secret,
            "authorize_url": self.base_url + oauth.authorize_path,
            "token_url": self.base_url + oauth.token_path,
        }

    def env(self) -> dict[str, str]:
        """Environment variables pointing a client or the MCP server at this sandbox."""
        return environment(self.base_url, self.options)

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for the generated client: base URL and Basic credentials."""
        basic = SPEC["auth"].get("http_basic", {})
        bearer = SPEC["auth"].get("http_bearer") or SPEC["auth"].get("api_key")
        if bearer and not basic:  # a static bearer token: the API key
            return {"base_url": self.base_url, bearer["token_param"]: self.api_key}
        if basic.get(
            "fixed_password"
        ):  # the API key is the user name; the client sends the fixed password
            return {
                "base_url": self.base_url,
                basic.get("username_param", "username"): self.api_key,
            }
        return {
            "base_url": self.base_url,
            basic.get("username_param", "username"): self.email,
            basic.get("password_param", "password"): self.api_key,
        }

    def stats(self) -> dict[str, Any]:
        return self.app.stats()

    def reset(self, seed: int | None = None) -> None:
        self.app.reset(seed)
        self.app.buckets.clear()

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SandboxHandle {self.base_url}>"


def environment(base_url: str, options: SandboxOptions) -> dict[str, str]:
    env = {}
    if SPEC["env"].get("base_url"):
        env[SPEC["env"]["base_url"]] = base_url
    basic = SPEC["auth"].get("http_basic", {})
    bearer = SPEC["auth"].get("http_bearer") or SPEC["auth"].get("api_key") or {}
    if bearer.get("token_env"):
        env[bearer["token_env"]] = options.api_key
    if basic.get("fixed_password"):
        if basic.get("username_env"):
            env[basic["username_env"]] = options.api_key
        return env
    if basic.get("username_env"):
        env[basic["username_env"]] = options.email
    if basic.get("password_env"):
        env[basic["password_env"]] = options.api_key
    return env


def serve_in_thread(options: SandboxOptions | None = None, **kwargs: Any) -> SandboxHandle:
    """Start the sandbox on a free loopback port (unless `port` is given) in a daemon thread.

    `kwargs` are SandboxOptions fields (seed, error_rate, rate_limit="off", ...). Returns once the
    server accepts connections.
    """
    if options is None:
        options = SandboxOptions.from_kwargs(**{"port": 0, "quiet": True, **kwargs})
    options.check()
    sock = _bind(options.host, options.port)
    port = sock.getsockname()[1]
    base_url = _url(options.host, port)
    app = Sandbox(options, base_url=base_url)
    server = _server(app, options, embedded=True)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.01)
    return SandboxHandle(app, server, thread, base_url)


def banner(base_url: str, app: Sandbox) -> str:
    options = app.options
    counts = app.store.counts()
    main = ", ".join(
        f"{counts[n]} {n.replace('_', ' ')}"
        for n in ("tickets", "messages", "customers", "users", "tags")
        if n in counts
    )
    basic = options.rate_limit_for("http_basic")
    bearer = next((options.rate_limit_for(k) for k in SPEC["auth"] if k.startswith("oauth2")), None)
    limits = "off" if basic is None else f"{basic[0]} requests / {basic[1]:g} s per API key"
    if bearer is not None and basic is not None:
        limits += f", {bearer[0]} / {bearer[1]:g} s per bearer token"
    faults = [
        f"{name}={getattr(options, name)}"
        for name in ("error_rate", "throttle_rate", "drop_connection_rate")
        if getattr(options, name)
    ]
    if options.latency_ms not in ("0", 0, "", None):
        faults.append(f"latency_ms={options.latency_ms}")
    source = f"loaded from {options.data}" if options.data else f"seed {options.seed}"
    env = " ".join(f"{k}={v}" for k, v in environment(base_url, options).items())
    lists = [
        r
        for r in SPEC["routes"]
        if r["method"] == "GET"
        and r["handler"] == "list"
        and "{" not in r["path"]
        and not any(p["required"] for p in r["params"])
    ]
    collections = SPEC["collections"]

    def interest(route: dict[str, Any]) -> tuple[bool, int]:
        name = route.get("collection") or ""
        has_children = bool(collections.get(name, {}).get("has_many"))
        return (not has_children, -counts.get(name, 0))

    lists.sort(key=interest)
    first_list = lists[0]["path"] if lists else "/"
    lines = [
        f"{SPEC['connector']['title']} sandbox: {len(SPEC['operations'])} operations on {base_url}",
        f"  credentials  Basic {options.email} / {options.api_key}   Bearer {options.token}",
        f"  data         {source}: {main}",
        f"  rate limit   {limits}",
        f"  faults       {', '.join(faults) or 'none'}",
        *(
            [
                f"  oauth2       authorize {base_url}{app.oauth.authorize_path}, token "
                f"{base_url}{app.oauth.token_path}; client {options.oauth_client_id} / "
                f"{options.oauth_client_secret}; access tokens live {options.oauth_token_ttl:g} s"
            ]
            if app.oauth is not None
            else []
        ),
        f"  try          curl -u {options.email}:{options.api_key} '{base_url}{first_list}?limit=2'",
        f"  client env   export {env}",
        f"  admin        {base_url}/_sandbox (stats, export, reset, faults; same credentials)",
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)


def serve(options: SandboxOptions | None = None, **kwargs: Any) -> int:
    """Run the sandbox in the foreground until interrupted."""
    if options is None:
        options = SandboxOptions.from_kwargs(**kwargs)
    options.check()
    sock = _bind(options.host, options.port)
    port = sock.getsockname()[1]
    base_url = _url(options.host, port)
    app = Sandbox(options, base_url=base_url)
    if not options.quiet:
        print(banner(base_url, app), flush=True)
    server = _server(app, options)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    from .options import parse_args

    options = parse_args(argv, prog=prog)
    try:
        return serve(options)
    except DataFileError as exc:
        print(f"sandbox: --data: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"sandbox: cannot listen on {options.host}:{options.port}: {exc}", file=sys.stderr)
        return 1
