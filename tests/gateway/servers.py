"""Start and stop a real redis-server and PostgreSQL (no pytest: the benchmark uses it too).

- `start_redis()`: context manager yielding `redis://127.0.0.1:<port>/0` (no persistence);
- `start_postgres()`: context manager yielding `postgresql://gateway@127.0.0.1:<port>/gateway`
  (trust auth on loopback only, fsync off); `create_database(url)` adds a fresh database.

Each server runs on a free loopback port with its data in a fresh temporary directory, removed
when the context exits. Missing binaries raise `ServiceMissing` (a RuntimeError) with a clear
message: `bash .ci/install-tools` installs Debian's `redis-server` and `postgresql` (whose
binaries live in /usr/lib/postgresql/<version>/bin). PostgreSQL refuses to run as root, so as
root it runs as the `postgres` user the Debian package creates (or $GATEWAY_TEST_PG_USER),
through `runuser`.

The pytest fixtures over these are in tests/gateway/services.py.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "INSTALL_HINT",
    "ServiceMissing",
    "create_database",
    "free_port",
    "start_postgres",
    "start_redis",
]

INSTALL_HINT = "run `bash .ci/install-tools` (installs Debian redis-server and postgresql)"


class ServiceMissing(RuntimeError):
    """A binary or system user needed to run redis-server / PostgreSQL is missing."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(
    port: int, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} in {timeout} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


# --- redis ------------------------------------------------------------------------------------


@contextlib.contextmanager
def start_redis() -> Iterator[str]:
    """A redis-server on a free loopback port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceMissing(f"redis-server is not installed: {INSTALL_HINT}")
    workdir = Path(tempfile.mkdtemp(prefix="gw-redis-"))
    port = free_port()
    log = workdir / "redis.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--protected-mode", "yes",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(workdir),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        _wait_port(port, proc, "redis-server", log, 15)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _as_user() -> tuple[list[str], str | None]:
    """(command prefix, user) to run PostgreSQL as a non-root user when we are root."""
    if os.geteuid() != 0:
        return [], None
    user = os.environ.get("GATEWAY_TEST_PG_USER", "postgres")
    runuser = shutil.which("runuser")
    try:
        import pwd

        pwd.getpwnam(user)
    except KeyError:
        raise ServiceMissing(
            f"running as root and there is no {user!r} user to run PostgreSQL as: {INSTALL_HINT}"
            " (the package creates it) or set GATEWAY_TEST_PG_USER"
        ) from None
    if runuser is None:
        raise ServiceMissing("running as root without `runuser` to start PostgreSQL")
    return [runuser, "-u", user, "--"], user


@contextlib.contextmanager
def start_postgres() -> Iterator[str]:
    """A PostgreSQL cluster in a fresh directory on a free loopback port; yields its URL."""
    initdb, postgres, createdb = _pg_bin("initdb"), _pg_bin("postgres"), _pg_bin("createdb")
    if not (initdb and postgres and createdb):
        raise ServiceMissing(f"PostgreSQL binaries (initdb, postgres) not found: {INSTALL_HINT}")
    prefix, user = _as_user()
    workdir = Path(tempfile.mkdtemp(prefix="gw-pg-"))
    data, sockets = workdir / "data", workdir / "sockets"
    sockets.mkdir()
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        for path in (workdir, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    log = workdir / "postgres.log"
    port = free_port()
    proc: subprocess.Popen[bytes] | None = None
    try:
        init = subprocess.run(
            [*prefix, initdb, "-D", str(data), "-U", "gateway", "-A", "trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.decode(errors='replace')[-2000:]}")
        with log.open("wb") as out:
            if user is not None:
                import pwd

                entry = pwd.getpwnam(user)
                os.chown(log, entry.pw_uid, entry.pw_gid)
            proc = subprocess.Popen(
                [*prefix, postgres, "-D", str(data), "-p", str(port), "-k", str(sockets),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=200", "-c", "shared_buffers=32MB"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        _wait_port(port, proc, "postgres", log, 30)
        deadline = time.monotonic() + 30
        while True:  # listening is not yet accepting: retry createdb while it starts up
            made = subprocess.run(
                [createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "gateway", "gateway"],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=30,
            )
            if made.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"createdb failed: {made.stderr.decode(errors='replace')}")
            time.sleep(0.1)
        yield f"postgresql://gateway@127.0.0.1:{port}/gateway"
    finally:
        if proc is not None and proc.poll() is None:
            pg_ctl = _pg_bin("pg_ctl")
            if pg_ctl is not None:  # throwaway data: immediate (SIGTERM waits for clients to leave)
                subprocess.run(
                    [*prefix, pg_ctl, "stop", "-D", str(data), "-m", "immediate", "-w", "-t", "20"],
                    capture_output=True,
                    stdin=subprocess.DEVNULL,
                    timeout=30,
                )
            _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def create_database(postgres_url: str) -> str:
    """A fresh, empty database on that server; returns its URL."""
    createdb = _pg_bin("createdb")
    assert createdb is not None
    base, _, _name = postgres_url.rpartition("/")
    name = "t_" + uuid.uuid4().hex[:12]
    host, port = base.rsplit("@", 1)[1].split(":")
    subprocess.run(
        [createdb, "-h", host, "-p", port, "-U", "gateway", name],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return f"{base}/{name}"
