"""`alertlens serve`: the argparse registration (the server loads only when the command runs)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from alertlens.serving.server import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MODEL_URI,
    DEFAULT_REQUEST_TIMEOUT_S,
)


def _serve(args: argparse.Namespace) -> None:
    from alertlens.serving.server import serve

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        from alertlens.config import project_root
        from alertlens.tracking import use_project_store

        use_project_store(project_root())
    serve(
        args.model_uri,
        args.host,
        args.port,
        args.max_body_bytes,
        args.workers,
        args.request_timeout,
        args.max_connections,
    )


def add_serve_parser(commands: Any) -> None:
    """Register `serve` on the `alertlens` subcommands."""
    serve = commands.add_parser(
        "serve",
        help="serve the triage model over HTTP (MLflow's scoring server, with a body size limit)",
        description=(
            "Serve a pair model on MLflow's scoring server in this environment (like "
            '`mlflow models serve --env-manager local`). POST {"inputs": [<raw alert>, ...], '
            '"params": {"mode": "pair"|"surrogate", "max_reasons": 5}} to /invocations.'
        ),
    )
    serve.add_argument(
        "--model-uri",
        default=DEFAULT_MODEL_URI,
        help=f"MLflow model URI or local model directory (default {DEFAULT_MODEL_URI})",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5001, help="port (default 5001)")
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"larger requests get 413 (default {DEFAULT_MAX_BODY_BYTES}, 8 MiB)",
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes, each with the model (default 1)"
    )
    serve.add_argument(
        "--request-timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT_S,
        help="seconds a client has to send a whole request before its connection is closed "
        f"(default {DEFAULT_REQUEST_TIMEOUT_S:.0f})",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        help="connections and requests in flight per worker before new ones get 503 "
        f"(default {DEFAULT_MAX_CONNECTIONS})",
    )
    serve.set_defaults(handler=_serve)
