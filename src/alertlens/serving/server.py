"""`alertlens serve`: MLflow's own scoring server for a pyfunc model, plus a request-size limit.

The app is the one `mlflow models serve` runs (``mlflow.pyfunc.scoring_server.init``: /ping,
/health, /version, /invocations, the same JSON formats and errors), run with uvicorn in this
environment, like ``--env-manager local``: no conda or virtualenv is built, nothing is fetched.
MLflow's server reads any body whole, however large; :class:`BodySizeLimit` answers 413 before
that. Malformed JSON is answered 400 by MLflow itself; :class:`RequestGuard` answers what MLflow
would answer 500 (no Content-Type, JSON nested too deeply, numbers too long to convert) with a 4xx
and a message, and keeps stack traces out of every error answer (they go to the server's log).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
import tempfile
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

DEFAULT_MODEL_URI = "models:/alertlens-triage-pair@champion"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
# How uvicorn's worker processes learn what to serve (as MLflow's own app module does).
MODEL_PATH_ENV = "ALERTLENS_SERVE_MODEL_PATH"
MAX_BODY_ENV = "ALERTLENS_SERVE_MAX_BODY_BYTES"
REQUEST_TIMEOUT_ENV = "ALERTLENS_SERVE_REQUEST_TIMEOUT"
# Seconds a client has to send a whole request (headers and body): 8 MiB over a slow link fits.
DEFAULT_REQUEST_TIMEOUT_S = 30.0
# Connections and requests in flight per worker before new ones get 503 (uvicorn's limit).
DEFAULT_MAX_CONNECTIONS = 256

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodySizeLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 and never reaches the app.

    A declared Content-Length is checked before reading; a chunked body is read up to the limit
    and then handed on whole (the scoring server reads it whole anyway).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send, declared)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._too_large(send, None)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _too_large(self, send: Send, size: int | None) -> None:
        size_text = f"is {size:,} bytes," if size is not None else "is"
        message = (
            f"request body {size_text} over the limit of {self.max_bytes:,} bytes "
            "(alertlens serve --max-body-bytes): send fewer alerts per request"
        )
        await _send_json(send, 413, {"error_code": "REQUEST_TOO_LARGE", "message": message})


# JSON deeper than this is named as the cause when the app fails on a request: an alert export
# nests a few levels (EVE: 4), and Python's parsers recurse per level (about 1,000 levels
# overflow the stack).
MAX_JSON_DEPTH = 64
JSON_TYPES = ("application/json",)


class RequestGuard:
    """ASGI middleware in front of MLflow's scoring app for ``POST /invocations``.

    Before the app: no Content-Type gets 415 (MLflow would answer 500). After it: an error answer
    loses its ``stack_trace`` (logged instead); a 500 to a JSON body nested deeper than
    MAX_JSON_DEPTH, or too deep for Python's parser, or holding a number longer than Python
    converts, becomes a 400 that says so; any other 500's message becomes a generic one. The
    body is judged only when the app has failed on it, so a request it answers pays nothing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        diagnose: Callable[[], tuple[int, str] | None] = _blameless
        if scope.get("method") == "POST" and scope.get("path") == "/invocations":
            body, replay = await _read_body(receive)
            if replay is None:
                return  # the client went away before sending the whole body
            content_type = _header(scope, b"content-type")
            if not content_type:
                message = "the request has no Content-Type: send application/json (or text/csv)"
                await _send_json(send, 415, {"error_code": "BAD_REQUEST", "message": message})
                return
            receive = replay
            diagnose = functools.partial(_refusal, content_type, body)
        guarded = _GuardedSend(send, diagnose)
        try:
            await self.app(scope, receive, guarded)
        except Exception:
            # Starlette answers 500 and then re-raises; the answer (made a 4xx above where the
            # request is to blame) is out, and the traceback belongs in the log.
            if not guarded.answered:
                raise
            log.exception("the scoring app failed after answering")


def _blameless() -> None:
    """The diagnosis of a request that is not judged (anything but ``POST /invocations``)."""
    return None


def _refusal(content_type: str, body: bytes) -> tuple[int, str] | None:
    """(400, message) when a JSON body is one MLflow's app fails on with a 500, else None."""
    if not content_type.split(";")[0].strip().lower().startswith(JSON_TYPES):
        return None  # MLflow answers an unsupported type with 415 itself
    try:
        # orjson parses in half the time of the standard library and, unlike it, without
        # recursion (it stops at 1,024 levels); what it refuses and the standard library may
        # accept (NaN, a lone surrogate, a number beyond a double) is judged by the latter.
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            document = json.loads(body)
        except RecursionError:
            return 400, f"the JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)"
        except ValueError as exc:
            if "digits" in str(exc):  # int() refuses more than sys.get_int_max_str_digits()
                return 400, f"a number in the request is too long to convert: {exc}"
            return None  # malformed JSON: MLflow's own 400 says where
    if _depth_exceeds(document, MAX_JSON_DEPTH):
        return 400, f"the JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)"
    return None


def _depth_exceeds(document: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit``: one level at a time, looking only at
    containers (no recursion to overflow; scalars, nearly all of a request, are skipped)."""
    level = [document] if type(document) in _CONTAINERS else []
    depth = 1
    while level:
        if depth > limit:
            return True
        inner: list[Any] = []
        for value in level:
            children = value.values() if type(value) is dict else value
            inner += [child for child in children if type(child) in _CONTAINERS]
        level, depth = inner, depth + 1
    return False


_CONTAINERS = (dict, list)


class _GuardedSend:
    """A ``send`` that holds back an error answer's body and sends it without a stack trace;
    a 500 that ``diagnose`` can blame on the request becomes the 4xx it returns.
    ``answered``: the last part of an answer has gone out."""

    def __init__(self, send: Send, diagnose: Callable[[], tuple[int, str] | None]) -> None:
        self.send, self.diagnose, self.answered = send, diagnose, False
        self.held: dict[str, Any] = {}

    async def __call__(self, message: Message) -> None:
        held = self.held
        if message["type"] == "http.response.start" and message["status"] >= 400:
            held["start"], held["body"] = message, b""
            return
        if message["type"] != "http.response.body" or "start" not in held:
            await self.send(message)
            self.answered |= message["type"] == "http.response.body" and not message.get(
                "more_body", False
            )
            return
        held["body"] += message.get("body", b"")
        if message.get("more_body", False):
            return
        start = held.pop("start")
        await _send_cleaned(self.send, start, held.pop("body"), self.diagnose)
        self.answered = True


async def _send_cleaned(
    send: Send, start: Message, body: bytes, diagnose: Callable[[], tuple[int, str] | None]
) -> None:
    """Send an error answer without its stack trace, or the 4xx ``diagnose`` blames it on."""
    refusal = diagnose() if start["status"] >= 500 else None
    if refusal is not None:
        status, message = refusal
        log.warning("request refused (%d): %s", status, message)
        await _send_json(send, status, {"error_code": "BAD_REQUEST", "message": message})
        return
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        await send(start)
        await send({"type": "http.response.body", "body": body})
        return
    trace = answer.pop("stack_trace", None)
    if trace or start["status"] >= 500:
        log.error(
            "request failed (%d): %s\n%s", start["status"], answer.get("message"), trace or ""
        )
    if start["status"] >= 500:
        answer["message"] = "internal error while scoring: the server's log has the details"
    await _send_json(send, start["status"], answer)


async def _read_body(receive: Receive) -> tuple[bytes, Receive | None]:
    """The whole request body, and a ``receive`` that replays it to the app (None when the
    client disconnected first)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body), None
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body), _replay(bytes(body), receive)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # uvicorn's HTTP parser rejects a malformed length itself
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body once, then waits on the client as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    content = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def request_timeout() -> float:
    return float(os.environ.get(REQUEST_TIMEOUT_ENV, DEFAULT_REQUEST_TIMEOUT_S))


class RequestDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for receiving each whole request.

    uvicorn has no such timeout (encode/uvicorn#157): its keep-alive timer only runs between
    requests and restarts on every byte received, so a client that sends part of a request and
    stalls, or trickles it a byte at a time, holds its connection (and, once its headers are
    in, a task of the app) for as long as it likes. Here each connection gets
    ``request_timeout()`` seconds, from its opening or its last answer, to deliver the next
    whole request, and is closed when it has not. (Module level: uvicorn's worker processes
    import it by name.)"""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._answered: object | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._answered = self.cycle
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(request_timeout(), self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if cycle is not None and cycle is not self._answered and not cycle.more_body:
            return  # the whole request is in: the app is answering it
        if not self.transport.is_closing():
            log.warning(
                "closing %s: no whole request within %.0f s", self.client, request_timeout()
            )
            self.transport.close()


def create_app(model_path: str, max_body_bytes: int) -> ASGIApp:
    """MLflow's scoring-server app for the model at ``model_path``, behind the size limit."""
    from mlflow.pyfunc import scoring_server

    model = scoring_server.load_model_with_mlflow_config(model_path)
    return BodySizeLimit(RequestGuard(scoring_server.init(model)), max_body_bytes)


def app_from_env() -> ASGIApp:
    """The uvicorn factory each worker calls (configured through the environment)."""
    return create_app(os.environ[MODEL_PATH_ENV], int(os.environ[MAX_BODY_ENV]))


@contextmanager
def local_model(model_uri: str) -> Iterator[str]:
    """A local directory holding the model: downloaded once here, not once per worker, and
    removed when the server stops."""
    if Path(model_uri).is_dir():
        yield str(Path(model_uri).resolve())
        return
    import mlflow
    from mlflow.exceptions import MlflowException

    from alertlens.config import ConfigError

    with tempfile.TemporaryDirectory(prefix="alertlens-serve-") as target:
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=target)
        except MlflowException as exc:
            raise ConfigError(
                f"cannot load {model_uri} from the MLflow store at {mlflow.get_tracking_uri()}: "
                f"{exc.message.splitlines()[0]} (promote a pair first, or pass --model-uri)"
            ) from None
        yield path


@contextmanager
def stop_cleanly_on_signals() -> Iterator[None]:
    """SIGINT/SIGTERM end the process through Python, so cleanup runs.

    uvicorn shuts down gracefully on a signal and then raises it again with the handler it
    found installed; the default one would kill the process before the download is removed.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(
    model_uri: str = DEFAULT_MODEL_URI,
    host: str = "127.0.0.1",
    port: int = 5001,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    workers: int = 1,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> None:
    """Serve ``model_uri`` until interrupted."""
    import uvicorn

    if max_body_bytes < 1:
        raise ValueError(f"--max-body-bytes must be at least 1; got {max_body_bytes}")
    if workers < 1:
        raise ValueError(f"--workers must be at least 1; got {workers}")
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535; got {port}")
    if request_timeout_s <= 0 or max_connections < 1:
        raise ValueError("--request-timeout must be positive and --max-connections at least 1")
    with stop_cleanly_on_signals(), local_model(model_uri) as model_path:
        os.environ[MODEL_PATH_ENV] = model_path
        os.environ[MAX_BODY_ENV] = str(max_body_bytes)
        os.environ[REQUEST_TIMEOUT_ENV] = str(request_timeout_s)
        log.info("serving %s on http://%s:%d (POST /invocations)", model_uri, host, port)
        uvicorn.run(
            "alertlens.serving.server:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http=RequestDeadlineProtocol,
            limit_concurrency=max_connections,
        )
