"""Benchmark the served pair model over HTTP on localhost.

Logs the pipeline's pair (`models/hardened` + `models/surrogate`) as the pyfunc model into a
throwaway MLflow store, starts `alertlens serve` on it, and measures, in both modes (pair:
the teacher decides; surrogate: the fast path), batched throughput (requests of --batch raw
alerts, sent one after another on one keep-alive connection) and the latency of one-alert
requests (p50/p95). Pair mode is measured once per teacher runtime the teacher directory holds
(torch, and the ONNX files the harden stage exported), each from a copy of the teacher switched
to that runtime; only speed is compared here (each runtime's verdicts are checked in harden).
Figures are medians over --repeats. The client runs on the same machine and shares its cores
with the server. Writes the figures to bench/results/serve.json. Usage:

    python bench/bench_serve.py [--batch 256] [--batches 8] [--single 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
from machine import describe, write_results

from alertlens.config import project_root
from alertlens.serving.pair_model import log_pair_model
from alertlens.teacher.artifact import META_FILE
from alertlens.teacher.runtime import ONNX_DIR, ONNX_FILES, TORCH

MODES = ("surrogate", "pair")


def sample_records(path: Path, n: int, seed: int = 3) -> list[dict]:
    """``n`` raw records drawn at random from an export (JSON Lines)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in random.Random(seed).sample(lines, n)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(model_uri: str, port: int, workers: int, env: dict) -> subprocess.Popen:
    command = [sys.executable, "-m", "alertlens.cli", "serve", "--model-uri", model_uri]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the server did not come up within 300 s")


def body(records: list[dict], mode: str) -> bytes:
    return json.dumps({"inputs": records, "params": {"mode": mode}}).encode()


def post(connection: http.client.HTTPConnection, payload: bytes) -> bytes:
    connection.request(
        "POST", "/invocations", payload, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}: {answer[:300]!r}")
    return answer


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the server has used so far: the process and every process
    under it (uvicorn's workers, with --workers > 1), from /proc."""
    stats = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        stats[int(path.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, grew = {pid}, True
    while grew:
        added = {p for p, (parent, _) in stats.items() if parent in tree} - tree
        tree |= added
        grew = bool(added)
    ticks = sum(stats[p][1] for p in tree if p in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def throughput(port: int, batches: list[bytes], alerts: int, pid: int) -> tuple[float, float]:
    """Alerts per second of wall time over all batches sent back to back, and per second of
    the server's own CPU time (what it needs, whatever else shares the machine)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    cpu, started = cpu_seconds(pid), time.perf_counter()
    for payload in batches:
        post(connection, payload)
    wall = time.perf_counter() - started
    return alerts / wall, alerts / (cpu_seconds(pid) - cpu)


def latencies(port: int, singles: list[bytes]) -> list[float]:
    """Seconds per one-alert request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    times = []
    for payload in singles:
        started = time.perf_counter()
        post(connection, payload)
        times.append(time.perf_counter() - started)
    return times


def teacher_runtimes(teacher: Path) -> list[str]:
    """torch, and each ONNX runtime whose file the teacher directory holds."""
    return [TORCH] + [
        name for name, file in ONNX_FILES.items() if (teacher / ONNX_DIR / file).is_file()
    ]


def teacher_on(teacher: Path, runtime: str, directory: Path) -> Path:
    """A copy of the teacher directory that scores with ``runtime``."""
    copy = directory / f"teacher-{runtime}"
    shutil.copytree(teacher, copy)
    meta = json.loads((copy / META_FILE).read_text())
    (copy / META_FILE).write_text(json.dumps({**meta, "runtime": runtime}))
    return copy


def measure(port: int, pid: int, mode: str, batched: list, singles: list, args) -> dict:  # noqa: ANN001
    """Batched throughput and one-alert latency of one mode, medians over ``args.repeats``."""
    batch_bodies = [
        body(batched[i : i + args.batch], mode) for i in range(0, len(batched), args.batch)
    ]
    single_bodies = [body([record], mode) for record in singles]
    if mode == "pair":
        single_bodies = single_bodies[: max(20, args.single // 4)]
    # Warm up: the first calls pay one-off setup.
    throughput(port, batch_bodies[:1], args.batch, pid)
    latencies(port, single_bodies[:10])
    rates, cpu_rates, p50s, p95s = [], [], [], []
    for _ in range(args.repeats):
        rate, cpu_rate = throughput(port, batch_bodies, len(batched), pid)
        rates.append(rate)
        cpu_rates.append(cpu_rate)
        times = latencies(port, single_bodies)
        p50s.append(float(np.percentile(times, 50)) * 1000)
        p95s.append(float(np.percentile(times, 95)) * 1000)
    return {
        "batched_alerts_per_s": statistics.median(rates),
        "batched_alerts_per_s_repeats": rates,
        "alerts_per_server_cpu_s": statistics.median(cpu_rates),
        "single_ms": {"p50": statistics.median(p50s), "p95": statistics.median(p95s)},
        "single_requests": len(single_bodies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    root = project_root()
    parser.add_argument("--teacher", type=Path, default=root / "models" / "hardened")
    parser.add_argument("--surrogate", type=Path, default=root / "models" / "surrogate")
    parser.add_argument("--records", type=Path, default=root / "data" / "raw" / "alerts.jsonl")
    parser.add_argument("--batch", type=int, default=256, help="alerts per batched request")
    parser.add_argument("--batches", type=int, default=8, help="batched requests per repeat")
    parser.add_argument("--single", type=int, default=200, help="one-alert requests per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()

    records = sample_records(args.records, args.batch * args.batches + args.single)
    batched, singles = records[: args.batch * args.batches], records[args.batch * args.batches :]
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
        # Artifacts in the temporary directory too (the default root is ./mlruns).
        experiment = mlflow.create_experiment("bench-serve", Path(tmp, "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            uris = {
                runtime: log_pair_model(
                    teacher_on(args.teacher, runtime, Path(tmp)), args.surrogate
                ).model_uri
                for runtime in teacher_runtimes(args.teacher)
            }
        load_at_start = os.getloadavg()[0]
        print(
            f"machine: {describe()}, "
            f"{'a CUDA GPU' if torch.cuda.is_available() else 'no GPU'}; server: alertlens serve "
            f"--workers {args.workers}; load average at start {load_at_start:.1f}"
        )
        figures["load_average_start"] = load_at_start
        for index, (runtime, model_uri) in enumerate(uris.items()):
            port = free_port()
            server = start_server(model_uri, port, args.workers, env)
            try:
                # The surrogate path does not touch the teacher: measured once.
                for mode in MODES if index == 0 else ("pair",):
                    result = measure(port, server.pid, mode, batched, singles, args)
                    label = mode if mode == "surrogate" else f"pair/{runtime}"
                    print(
                        f"{label:15s} batched ({args.batch}/request): "
                        f"{result['batched_alerts_per_s']:,.0f} alerts/s (repeats: "
                        f"{', '.join(f'{r:,.0f}' for r in result['batched_alerts_per_s_repeats'])}), "
                        f"{result['alerts_per_server_cpu_s']:,.0f} alerts per server CPU-second; "
                        f"one alert: p50 {result['single_ms']['p50']:.1f} ms, "
                        f"p95 {result['single_ms']['p95']:.1f} ms "
                        f"({result['single_requests']} requests)"
                    )
                    if mode == "surrogate":
                        figures["surrogate"] = result
                    else:
                        figures.setdefault("pair", {})[runtime] = result
            finally:
                server.terminate()
                server.wait(timeout=30)
        figures["load_average_end"] = os.getloadavg()[0]
        print(f"load average at end {figures['load_average_end']:.1f}")
    write_results("serve", figures, args)


if __name__ == "__main__":
    main()
