"""Benchmark the teacher: training and inference throughput, fp32 vs bf16, peak memory, and
inference in ONNX Runtime (fp32 and int8, as ``teacher.runtime`` can deploy it) on the same
alerts with the margin difference against PyTorch fp32.

Runs on real rendered alerts from the synthetic generator, with the configured encoder
(default all-MiniLM-L6-v2). On a GPU it also reports model FLOPs utilization (MFU) against the
device's dense bf16 peak. It also reports what ``precision: auto`` picks on this machine and
why, and the thread counts the stages use, so the pick can be checked against the measured
throughputs. Writes the figures to bench/results/teacher.json. Usage:

    python bench/bench_teacher.py [--encoder minilm] [--steps 8] [--max-length 96] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from machine import describe, write_results

from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.render import RenderConfig, render_text
from alertlens.config import load_group_option
from alertlens.machine import cpu_flags
from alertlens.synth.generate import generate_alerts
from alertlens.teacher.batching import EncodedSet, collate, encode
from alertlens.teacher.encoder import autocast, load_encoder, pick_device
from alertlens.teacher.precision import choose_precision
from alertlens.teacher.runtime import INPUTS, OnnxEncoder, export_onnx
from alertlens.threads import configure_threads

# Dense bf16 peak FLOP/s, for MFU on the GPUs this project is measured on.
GPU_PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def sample_texts(n: int) -> list[str]:
    data_cfg = load_group_option("data", "synthetic")
    mapping, render = DataMapping.from_config(data_cfg), RenderConfig.from_data_config(data_cfg)
    return [render_text(mapping.normalize(r, raw=""), render) for r in generate_alerts(n, seed=11)]


def train_step_seconds(
    model, data: EncodedSet, batch: int, device, precision: str, steps: int
) -> list[float]:  # noqa: ANN001
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    model.train()
    times = []
    for step in range(steps + 1):  # the first step warms up kernels and is dropped
        indices = list(
            range(
                (step * batch) % (len(data) - batch), (step * batch) % (len(data) - batch) + batch
            )
        )
        inputs = collate(data, indices, 0, device)
        started = time.perf_counter()
        with autocast(device, precision):
            loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return times[1:]


@torch.no_grad()
def inference_seconds(model, data: EncodedSet, batch: int, device, precision: str, n: int) -> float:  # noqa: ANN001
    model.eval()
    started = time.perf_counter()
    for start in range(0, n, batch):
        inputs = collate(data, list(range(start, min(start + batch, n))), 0, device)
        with autocast(device, precision):
            model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def onnx_inference_seconds(encoder: OnnxEncoder, data: EncodedSet, batch: int, n: int) -> float:
    started = time.perf_counter()
    for start in range(0, n, batch):
        inputs = collate(data, list(range(start, min(start + batch, n))), 0, torch.device("cpu"))
        encoder.session.run(None, {name: inputs[name].numpy() for name in INPUTS})
    return time.perf_counter() - started


@torch.no_grad()
def torch_margins(model, data: EncodedSet, n: int) -> torch.Tensor:  # noqa: ANN001
    model.eval()
    inputs = collate(data, list(range(n)), 0, next(model.parameters()).device)
    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    return (logits[:, 1] - logits[:, 0]).float().cpu()


def bench_onnx(model, data: EncodedSet, n: int, repeats: int, figures: dict[str, Any]) -> None:  # noqa: ANN001
    """ONNX Runtime fp32 and int8 inference on the same alerts, beside PyTorch's figures."""
    reference = torch_margins(model, data, min(n, 64)).numpy()
    with tempfile.TemporaryDirectory() as directory:
        for runtime, path in export_onnx(model, Path(directory)).items():
            encoder = OnnxEncoder(path)
            batch_data = EncodedSet(data.input_ids[: min(n, 64)], data.labels[: min(n, 64)])
            difference = abs(encoder.margins(batch_data, 64, 0) - reference)
            figures.setdefault("onnx_max_abs_margin_diff", {})[runtime] = float(difference.max())
            for batch in (1, 64):
                count = min(n, 64 if batch == 1 else n)
                seconds = statistics.median(
                    onnx_inference_seconds(encoder, data, batch, count) for _ in range(repeats)
                )
                print(
                    f"infer  {runtime}: {count / seconds:8.1f} alerts/s  at batch {batch}"
                    + (f"  (max margin difference {difference.max():.4f})" if batch == 1 else "")
                )
                by_batch = figures.setdefault("infer_alerts_per_s", {})
                by_batch.setdefault(f"batch_{batch}", {})[runtime] = count / seconds


def mfu(params: int, tokens_per_s: float, device) -> float | None:  # noqa: ANN001
    """Model FLOPs utilization (6 FLOPs per parameter per trained token) against the GPU's
    dense bf16 peak; None on a CPU or a GPU without a known peak."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name()
    peak = next((v for k, v in GPU_PEAK_BF16.items() if k in name), None)
    return 6 * params * tokens_per_s / peak if peak else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--max-length", type=int, default=96)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--infer", type=int, default=256, help="alerts scored per inference measurement"
    )
    args = parser.parse_args()
    threads = configure_threads()  # as the teacher and harden stages do
    device = pick_device()
    gpu = torch.cuda.get_device_name() if device.type == "cuda" else "none"
    print(
        f"machine: {describe()}, torch {torch.__version__}, "
        f"{threads.torch_threads} threads of {threads.usable_cores} usable cores, GPU: {gpu}"
    )
    auto = choose_precision("auto", device)
    print(f"precision auto picks {auto.precision}: {auto.reason}")
    model, tokenizer = load_encoder(args.encoder, args.max_length, seed=0)
    model.to(device)
    params = sum(p.numel() for p in model.parameters())
    texts = sample_texts(max(args.infer, args.batch * (args.steps + 2)))
    data = encode(tokenizer, texts, [i % 2 for i in range(len(texts))], args.max_length)
    tokens_per_alert = data.token_count() / len(data)
    print(
        f"encoder {args.encoder} ({params / 1e6:.1f}M parameters), max_length {args.max_length}, "
        f"{tokens_per_alert:.0f} tokens per alert on average; medians of {args.repeats} runs"
    )
    figures: dict[str, Any] = {
        "encoder_parameters": params,
        "tokens_per_alert": tokens_per_alert,
        "auto_precision": auto.precision,
        "auto_precision_reason": auto.reason,
        "threads": asdict(threads),
    }
    precisions = ["fp32"]
    if device.type != "cpu" or {"avx512_bf16", "amx_bf16"} & cpu_flags():
        precisions.append("bf16")
    else:
        # Emulated bf16 runs a training step for minutes and is never chosen: not measured.
        print("bf16: not measured, this CPU has no bf16 instructions (avx512_bf16, amx_bf16)")
    for precision in precisions:
        step = statistics.median(
            statistics.median(
                train_step_seconds(model, data, args.batch, device, precision, args.steps)
            )
            for _ in range(args.repeats)
        )
        alerts_s = args.batch / step
        utilization = mfu(params, alerts_s * tokens_per_alert, device)
        print(
            f"train  {precision}: {alerts_s:8.1f} alerts/s  {alerts_s * tokens_per_alert:9.0f} tokens/s  "
            f"(batch {args.batch}, {step * 1000:.0f} ms/step)"
            f"{f'  MFU {utilization:.1%}' if utilization is not None else ''}"
        )
        figures.setdefault("train_alerts_per_s", {})[precision] = alerts_s
        figures.setdefault("train_tokens_per_s", {})[precision] = alerts_s * tokens_per_alert
        figures.setdefault("train_ms_per_step", {})[precision] = step * 1000
        if utilization is not None:
            figures.setdefault("train_mfu", {})[precision] = utilization
        for batch in (1, 64):
            n = min(args.infer, 64 if batch == 1 else args.infer)
            seconds = statistics.median(
                inference_seconds(model, data, batch, device, precision, n)
                for _ in range(args.repeats)
            )
            print(f"infer  {precision}: {n / seconds:8.1f} alerts/s  at batch {batch}")
            by_batch = figures.setdefault("infer_alerts_per_s", {})
            by_batch.setdefault(f"batch_{batch}", {})[precision] = n / seconds
    bench_onnx(model, data, args.infer, args.repeats, figures)
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    print(
        f"peak memory: {peak:,.0f} MiB ({'GPU allocated' if device.type == 'cuda' else 'process RSS'})"
    )
    figures["peak_gpu_allocated_mib" if device.type == "cuda" else "peak_rss_mib"] = peak
    write_results("teacher", figures, args)


if __name__ == "__main__":
    main()
