"""`alertlens serve`: the size limit in process, then the pair model logged and registered as
the champion of a throwaway MLflow store, loaded back, and served by a real server on localhost."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from live_servers import free_port, wait_for_http
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from alertlens.registry import CHAMPION, PAIR_MODEL
from alertlens.serving.pair_model import log_pair_model
from alertlens.serving.server import (
    MAX_JSON_DEPTH,
    BodySizeLimit,
    RequestGuard,
    _depth_exceeds,
    _refusal,
    create_app,
)

MAX_BODY = 4096
START_TIMEOUT_S = 120


def run_asgi(app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> list[dict]:
    """Send one POST through ``app``; returns the messages it sent back."""
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/invocations",
        "raw_path": b"/invocations",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 5001),
    }
    asyncio.run(app(scope, receive, send))
    return sent


async def echo_length(scope: Any, receive: Any, send: Any) -> None:
    """A stand-in for the scoring server: answers with the size of the body it read."""
    message = await receive()
    body = str(len(message["body"])).encode() if not message["more_body"] else b"partial"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_body_over_the_declared_limit_is_refused_before_reading() -> None:
    sent = run_asgi(BodySizeLimit(echo_length, 10), [b"x" * 11], [(b"content-length", b"11")])
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["message"] == (
        "request body is 11 bytes, over the limit of 10 bytes (alertlens serve "
        "--max-body-bytes): send fewer alerts per request"
    )


def test_chunked_body_is_counted_and_a_small_one_reaches_the_app_whole() -> None:
    app = BodySizeLimit(echo_length, 10)
    refused = run_asgi(app, [b"x" * 6, b"x" * 6], [])
    assert refused[0]["status"] == 413 and b"over the limit of 10 bytes" in refused[1]["body"]
    passed = run_asgi(app, [b"x" * 4, b"x" * 6], [])
    assert passed[0]["status"] == 200 and passed[1]["body"] == b"10"


JSON = [(b"content-type", b"application/json")]


def nested(levels: int) -> bytes:
    return b'{"inputs": ' + b"[" * levels + b"]" * levels + b"}"


def answer_of(sent: list[dict]) -> tuple[int, dict[str, Any]]:
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


async def parsing_app(scope: Any, receive: Any, send: Any) -> None:
    """A stand-in for the scoring server that parses the body as MLflow does: malformed JSON
    gets a 400, and what the parser cannot take (nesting, huge numbers) a 500 with its trace."""
    body = (await receive())["body"]
    try:
        json.loads(body)
        status, answer = 200, {"length": len(body)}
    except json.JSONDecodeError:
        status, answer = 400, {"error_code": "BAD_REQUEST", "message": "Ensure valid JSON"}
    except (RecursionError, ValueError) as exc:
        status, answer = 500, {"message": repr(exc), "stack_trace": "Traceback ..."}
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b'{"inputs": []}', [], 415, "the request has no Content-Type"),
        (nested(5000), JSON, 400, f"nested too deeply (at most {MAX_JSON_DEPTH} levels)"),
        (nested(1000), JSON, 400, "nested too deeply"),
        (b'{"inputs": [{"port": ' + b"9" * 5000 + b"}]}", JSON, 400, "too long to convert"),
        (b'{"inputs": [', JSON, 400, "Ensure valid JSON"),  # the app's own 400
    ],
)
def test_requests_the_scoring_app_fails_on_get_a_4xx_that_says_why(
    body: bytes, headers: list, status: int, message: str
) -> None:
    sent = run_asgi(RequestGuard(parsing_app), [body], headers)
    got_status, answer = answer_of(sent)
    assert got_status == status and message in answer["message"]
    assert "stack_trace" not in answer


def test_requests_the_app_answers_reach_it_whole_and_are_not_judged() -> None:
    body = nested(MAX_JSON_DEPTH + 1)  # deeper than the limit, but the app copes
    sent = run_asgi(RequestGuard(echo_length), [body[:7], body[7:]], JSON)
    assert sent[0]["status"] == 200 and sent[1]["body"] == str(len(body)).encode()
    csv_body = b"a,b\n1,2\n"
    sent = run_asgi(RequestGuard(echo_length), [csv_body], [(b"content-type", b"text/csv")])
    assert sent[0]["status"] == 200 and sent[1]["body"] == str(len(csv_body)).encode()


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": [{"score": NaN}]}',  # JSON that only the standard library reads
        b'{"inputs": [{"user": "\\ud800"}]}',
        b'{"inputs": [{"bytes": 1e400}]}',
    ],
)
def test_json_the_fast_parser_refuses_is_judged_by_the_standard_library(body: bytes) -> None:
    assert _refusal("application/json", body) is None
    assert _refusal("application/json", nested(MAX_JSON_DEPTH + 1)) == (
        400,
        f"the JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)",
    )


def test_depth_counts_containers_inside_objects_and_lists() -> None:
    deep = {"inputs": [{"a": {"b": [[{"c": 1}]]}}]}  # 7 levels
    assert not _depth_exceeds(deep, 7) and _depth_exceeds(deep, 6)
    assert not _depth_exceeds("scalar", 0) and not _depth_exceeds({}, 1)


def failing_app(status: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        body = json.dumps({"error_code": "X", "message": "boom", "stack_trace": "Traceback ..."})
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body[:10].encode(), "more_body": True})
        await send({"type": "http.response.body", "body": body[10:].encode()})

    return app


def test_error_answers_keep_their_message_but_not_their_stack_trace() -> None:
    status, answer = answer_of(run_asgi(RequestGuard(failing_app(400)), [b"{}"], JSON))
    assert (status, answer) == (400, {"error_code": "X", "message": "boom"})
    status, answer = answer_of(run_asgi(RequestGuard(failing_app(500)), [b"{}"], JSON))
    assert status == 500 and "stack_trace" not in answer
    assert answer["message"] == "internal error while scoring: the server's log has the details"


def post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_healthy(process: subprocess.Popen, url: str, log: Path) -> None:
    try:
        wait_for_http(f"{url}/ping", process, START_TIMEOUT_S)
    except RuntimeError as exc:
        raise AssertionError(f"{exc}:\n{log.read_text()[-2000:]}") from None


@pytest.fixture(scope="module")
def store(pair_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway MLflow store whose champion is the logged pair model; yields its URI."""
    root = tmp_path_factory.mktemp("serve_store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)  # the process-wide URI wins over the variable
        # Artifacts beside the store: the default root is ./mlruns in the working directory.
        experiment = mlflow.create_experiment("serving", (root / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            info = log_pair_model(*pair_dirs)
        version = mlflow.register_model(info.model_uri, PAIR_MODEL).version
        MlflowClient().set_registered_model_alias(PAIR_MODEL, CHAMPION, version)
        yield uri


@contextlib.contextmanager
def serving(store: str, log: Path, *options: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`alertlens serve` (default model URI: the champion) with ``options`` on a free port;
    yields its URL and process."""
    port = free_port()
    command = [sys.executable, "-m", "alertlens.cli", "serve", "--port", str(port), *options]
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            env={**os.environ, "MLFLOW_TRACKING_URI": store},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url, log)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server(store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`alertlens serve --max-body-bytes MAX_BODY` on the champion; yields its URL."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with serving(store, log, "--max-body-bytes", str(MAX_BODY)) as (url, _):
        yield url


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``, with their command lines, from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid:
                command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(stat.parent.name)] = command.decode(errors="replace")
        except OSError:
            continue  # the process ended meanwhile
    return found


def test_logged_pair_has_params_with_defaults_and_loads(
    store: str, records: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow.set_tracking_uri(store)
    loaded = mlflow.pyfunc.load_model(f"models:/{PAIR_MODEL}@{CHAMPION}")
    assert loaded.metadata.get_params_schema().to_dict() == [
        {"name": "mode", "type": "string", "default": "pair", "shape": None},
        {"name": "max_reasons", "type": "long", "default": 5, "shape": None},
    ]
    answers = loaded.predict(records)
    assert [a["decided_by"] for a in answers] == ["teacher"] * 3
    fast = loaded.predict(records, params={"mode": "surrogate"})
    assert [a["surrogate"] for a in fast] == [a["surrogate"] for a in answers]
    with pytest.raises(MlflowException, match="Expected dict, but got str"):
        loaded.predict(["not an alert"])


@pytest.mark.slow
def test_served_champion_answers_per_alert(server: str, records: list[dict]) -> None:
    broken = {"id": "b1", "kind": "edr"}
    status, answer = post(
        f"{server}/invocations", json.dumps({"inputs": [*records, broken]}).encode()
    )
    assert status == 200
    answers = answer["predictions"]
    assert [a["alert_id"] for a in answers] == ["a1", "a2", "a3", None]
    first = answers[0]
    assert first["decided_by"] == "teacher" and first["teacher"]["score"] is not None
    assert first["explanation_reliable"] == (
        first["teacher"]["verdict"] == first["surrogate"]["verdict"]
    )
    assert first["reasons"][0]["field"] == "command_line" and len(first["reasons"]) <= 5
    assert answers[2]["missing_fields"] == ["src_ip", "failed_logins"]
    assert answers[2]["verdict"] in ("real", "false_positive")
    assert answers[3]["error"] == {
        "reason": "missing_field",
        "message": "required field timestamp ('ts') is missing",
    }


@pytest.mark.slow
def test_mlflows_own_app_behind_the_guard_answers_each_bad_request_with_a_4xx(
    store: str, records: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow.set_tracking_uri(store)
    model = mlflow.artifacts.download_artifacts(
        f"models:/{PAIR_MODEL}@{CHAMPION}", dst_path=str(tmp_path)
    )
    app = create_app(model, 1 << 20)  # in process: bodies over the test server's limit
    good = json.dumps({"inputs": records[:1], "params": {"mode": "surrogate"}}).encode()
    status, answer = answer_of(run_asgi(app, [good], JSON))
    assert status == 200 and answer["predictions"][0]["verdict"] == "real"
    huge_number = b'{"inputs": [{"port": ' + b"9" * 5000 + b"}]}"
    for body, message in [
        (nested(1000), "nested too deeply"),
        (huge_number, "too long to convert"),
        (nested(MAX_JSON_DEPTH + 1), "Expected dict, but got list"),  # MLflow's own 400
    ]:
        status, answer = answer_of(run_asgi(app, [body], JSON))
        assert status == 400 and message in answer["message"], answer
        assert "stack_trace" not in answer


@pytest.mark.slow
def test_served_surrogate_only_mode(server: str, records: list[dict]) -> None:
    body = {"inputs": records[:2], "params": {"mode": "surrogate", "max_reasons": 2}}
    status, answer = post(f"{server}/invocations", json.dumps(body).encode())
    assert status == 200
    assert [a["verdict"] for a in answer["predictions"]] == ["real", "false_positive"]
    assert all(a["teacher"] is None and len(a["reasons"]) <= 2 for a in answer["predictions"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"inputs": [{"id": "a1"', 400, "Ensure that input is a valid JSON formatted string"),
        (
            json.dumps({"inputs": [{"pad": "x" * MAX_BODY}]}).encode(),
            413,
            "over the limit of 4,096 bytes (alertlens serve --max-body-bytes)",
        ),
        (b'{"inputs": ["not an alert"]}', 400, "Expected dict, but got str"),
        (b'{"inputs": [], "params": {"mode": "fast"}}', 400, "params.mode must be one of"),
        (nested(1000), 400, "nested too deeply"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_clear_message(
    server: str, body: bytes, status: int, message: str
) -> None:
    got_status, answer = post(f"{server}/invocations", body)
    assert got_status == status and message in answer["message"]
    assert "stack_trace" not in answer


@pytest.mark.slow
def test_a_request_without_content_type_gets_415(server: str) -> None:
    # http.client, not urllib: urllib adds a form Content-Type to every POST.
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST", "/invocations", body=b'{"inputs": []}')
        response = connection.getresponse()
        status, answer = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert status == 415 and "no Content-Type" in answer["message"]


async def read_then_echo_length(scope: Any, receive: Any, send: Any) -> None:
    """A stand-in that, like the scoring server, reads the whole body before answering."""
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client (or the deadline) closed the connection
        size += len(message["body"])
        if not message["more_body"]:
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture
def deadline_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """uvicorn with the request deadline (1 s) in a thread, serving the echo app; yields its port."""
    import threading

    import uvicorn

    from alertlens.serving.server import REQUEST_TIMEOUT_ENV, RequestDeadlineProtocol

    monkeypatch.setenv(REQUEST_TIMEOUT_ENV, "1")
    port = free_port()
    config = uvicorn.Config(
        read_then_echo_length,
        host="127.0.0.1",
        port=port,
        http=RequestDeadlineProtocol,
        log_level="error",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def closed_by_server(sock: socket.socket, within_s: float) -> bytes | None:
    """What the server sent before closing (b"" for nothing), or None if it kept it open."""
    sock.settimeout(within_s)
    received = b""
    try:
        while chunk := sock.recv(1024):
            received += chunk
    except TimeoutError:
        return None
    return received


def test_a_half_sent_request_is_cut_off_while_whole_ones_are_answered(
    deadline_server: int,
) -> None:
    stalled = []
    for partial in (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\n",
        b'POST /i HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"inputs"',
    ):
        sock = socket.create_connection(("127.0.0.1", deadline_server))
        sock.sendall(partial)
        stalled.append(sock)
    idle = socket.create_connection(("127.0.0.1", deadline_server))
    stalled.append(idle)
    # A whole request meanwhile is answered at once, and its connection stays usable.
    with socket.create_connection(("127.0.0.1", deadline_server)) as whole:
        whole.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        whole.settimeout(5)
        assert whole.recv(1024).startswith(b"HTTP/1.1 200")
    try:
        # Headers half-sent, body half-sent, nothing sent: each closed after its deadline.
        assert [closed_by_server(sock, within_s=10) for sock in stalled] == [b"", b"", b""]
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.slow
def test_several_workers_each_load_the_pair_and_answer(
    store: str, records: list[dict], tmp_path: Path
) -> None:
    with serving(store, tmp_path / "server.log", "--workers", "2") as (url, process):
        # The command is uvicorn's supervisor: it spawns one process per worker.
        spawned = children(process.pid)
        workers = [pid for pid, command in spawned.items() if "spawn_main" in command]
        assert len(workers) == 2, spawned
        for _ in range(6):  # the kernel hands each connection to either worker
            status, answer = post(f"{url}/invocations", json.dumps({"inputs": records}).encode())
            assert status == 200
            assert [a["alert_id"] for a in answer["predictions"]] == ["a1", "a2", "a3"]
