"""Real servers for the scale-out tests: a throwaway PostgreSQL cluster and an MLflow tracking
server whose backend store is that PostgreSQL and whose artifacts go through the server.

Both listen on 127.0.0.1 only, on free ports, and are stopped (and their files removed) on exit.
PostgreSQL's ``initdb`` refuses to run as root, so as root the cluster belongs to the
``postgres`` user (``runuser``), in a directory of its own outside pytest's private tmp dirs.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POSTGRES_USER = "postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_bin(name: str) -> str:
    """A PostgreSQL server program: on PATH, else Debian's versioned directory."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: run scripts/system_deps.sh (make test does)"
        )
    return found


def _as_cluster_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", POSTGRES_USER, "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str]) -> None:
    """Run a PostgreSQL program; its own output is the error message when it fails."""
    done = subprocess.run(_as_cluster_owner(args), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a PostgreSQL cluster; yields its URL (``postgresql://postgres@127.0.0.1:PORT``,
    trust authentication, append ``/<database>``)."""
    home = Path(tempfile.mkdtemp(prefix="alertlens-pg-"))
    if os.geteuid() == 0:
        shutil.chown(home, user=POSTGRES_USER)
    data, port = home / "data", free_port()
    try:
        _run(
            [postgres_bin("initdb"), "-D", str(data), "-U", POSTGRES_USER, "-A", "trust"]
            + ["--no-sync", "-E", "UTF8"]
        )
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run(
            [postgres_bin("pg_ctl"), "-D", str(data), "-o", options]
            + ["-l", str(home / "server.log"), "-w", "start"]
        )
        yield f"postgresql://{POSTGRES_USER}@127.0.0.1:{port}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_cluster_owner([postgres_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                capture_output=True,
            )
        shutil.rmtree(home, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """A new empty database on the server; returns its URL."""
    import psycopg

    # autocommit: CREATE DATABASE cannot run inside a transaction
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited with status {process.returncode} before {url} answered"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def mlflow_server(backend_store_uri: str, artifacts: Path, log: Path) -> Iterator[str]:
    """``mlflow server`` on the given backend store, serving artifacts from ``artifacts``
    (proxied: clients upload and download through the server); yields its URL."""
    port = free_port()
    command = [
        *(sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)),
        *("--backend-store-uri", backend_store_uri, "--workers", "1"),
        *("--artifacts-destination", artifacts.resolve().as_uri()),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http(f"{url}/health", process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; its log ends:\n{log.read_text()[-3000:]}") from None
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
