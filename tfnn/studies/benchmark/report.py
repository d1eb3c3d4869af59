"""The benchmark's report as Markdown: a table per model, the ratios, time
to a target accuracy, the speedrun, the step profiles and the serving
speed."""

from __future__ import annotations

from tfnn.studies.benchmark.profile import format_step_profile
from tfnn.studies.benchmark.speedrun_rows import format_speedrun_rows
from tfnn.studies.benchmark.workload import PATHS

TITLES = {"mlp": "MLP",
          "mlp_bn_dropout": "MLP, Linear → BN → ReLU → dropout 0.2",
          "cnn": "CNN, oneDNN kernels (tfnn's choice)",
          "cnn_eigen": "CNN, Eigen kernels (TensorFlow's default here)"}


def _in_order(paths: dict) -> list:
    """``paths.items()`` in :data:`PATHS` order (a report read back from
    JSON has its keys sorted)."""
    def rank(item):
        return PATHS.index(item[0]) if item[0] in PATHS else len(PATHS)

    return sorted(paths.items(), key=rank)


def _training_table(title, r, peak) -> list:
    """One model's paths: examples/s, GFLOP/s against the matmul peak,
    compile time, accuracy and memory, then tfnn's speed ratios."""
    lines = [f"### {title} ({r['examples']} examples, batch "
             f"{r['batch']}, {r['epochs']} epochs interleaved)", "",
             "| path | examples/s | GFLOP/s | % of matmul peak | "
             "compile s | test acc | RSS growth MB |",
             "|---|---|---|---|---|---|---|"]
    paths = _in_order(r["paths"])
    for name, p in paths:
        lines.append(
            f"| {name} | {p['examples_per_second']:,.0f} | "
            f"{p['gflops']:.1f} | {100 * p['gflops'] / peak:.0f} % | "
            f"{p['compile_seconds']:.1f} | {p['test_accuracy']:.4f} | "
            f"{p['rss_growth_mb']:.0f} |")
    if "tfnn" in r["paths"]:
        base = r["paths"]["tfnn"]["examples_per_second"]
        ratios = [f"tfnn/{k} = {base / v['examples_per_second']:.2f}x"
                  for k, v in paths if k != "tfnn"]
        lines += ["", "ratios: " + ", ".join(ratios)]
    return lines + [""]


def _ceiling_line(ceiling, mlp, peak) -> str:
    """The MLP step's products alone beside the MLP paths: the ceiling in
    examples/s, its share of the peak (the table's FLOPs per example),
    tfnn's share of it and its multiple of PyTorch's speed (the most any
    path could be ahead of PyTorch here)."""
    gflops = ceiling * mlp["flops_per_example"] / 1e9
    line = (f"the MLP step's matrix products alone (one XLA loop, batch "
            f"{mlp['batch']}): {ceiling:,.0f} examples/s, "
            f"{100 * gflops / peak:.0f} % of matmul peak")
    paths = mlp["paths"]
    if "tfnn" in paths:
        tfnn = paths["tfnn"]["examples_per_second"]
        line += f"; tfnn runs at {100 * tfnn / ceiling:.0f} % of it"
    if "torch" in paths:
        torch = paths["torch"]["examples_per_second"]
        line += f"; ceiling/torch = {ceiling / torch:.2f}x"
    return line


def _time_to_line(r, what) -> str:
    """When each path first reached the target (or its best epoch)."""
    reached = []
    for name, v in _in_order(r["paths"]):
        best = r.get("best", {}).get(name)
        if v is not None:
            reached.append(f"{name}: {v['seconds']:.1f} s (epoch "
                           f"{v['epoch']})")
            continue
        reached.append(
            f"{name}: not within {r.get('max_epochs')} epochs"
            + (f" (best {100 * best['accuracy']:.2f} % at epoch "
               f"{best['epoch']})" if best else ""))
    return (f"time to {100 * r['target']:.1f} % MNIST test accuracy "
            f"({what}): " + ", ".join(reached))


def _serving_table(serving) -> list:
    lines = ["| serving | HTTP req/s | p50 ms | p99 ms | in-process "
             "calls/s | in-process p50 ms |", "|---|---|---|---|---|---|"]
    for k, v in serving.items():
        lines.append(
            f"| {k} | {v['http_requests_per_second']:.0f} | "
            f"{v['http_p50_ms']:.1f} | {v['http_p99_ms']:.1f} | "
            f"{v['inprocess_calls_per_second']:.0f} | "
            f"{v['inprocess_p50_ms']:.2f} |")
    return lines


def format_report(report) -> str:
    """The benchmark as Markdown tables plus the goal's ratios."""
    lines = []
    peak = float("nan")
    if "matmul_gflops" in report:
        lines += [f"matrix-product peak: {report['matmul_gflops']:.1f} "
                  "GFLOP/s (again at the end: "
                  f"{report.get('peak_after', float('nan')):.1f})", ""]
        peak = max(report["matmul_gflops"], report.get("peak_after", 0))
    for arch, title in TITLES.items():
        if arch in report:
            lines += _training_table(title, report[arch], peak)
            if arch == "mlp" and "mlp_matmul_ceiling" in report:
                lines += [_ceiling_line(report["mlp_matmul_ceiling"],
                                        report["mlp"], peak), ""]
    for key, what in (("mlp_time_to_98", "MLP"), ("cnn_time_to_99", "CNN")):
        if key in report:
            lines += [_time_to_line(report[key], what), ""]
    if "speedrun" in report:
        lines += format_speedrun_rows(report["speedrun"])
    for profile in report.get("step_profile", {}).values():
        lines += [format_step_profile(profile), ""]
    if "serving" in report:
        lines += _serving_table(report["serving"])
    if "grpc_serving" in report:
        lines += [""] + _grpc_table(report["grpc_serving"])
    return "\n".join(lines)


def _grpc_table(rows) -> list:
    lines = ["| gRPC Predict vs REST vs in-process | gRPC req/s | gRPC p50 "
             "ms | REST p50 ms | in-process p50 ms | gRPC/in-process |",
             "|---|---|---|---|---|---|"]
    for k, v in rows.items():
        lines.append(
            f"| {k} | {v['grpc_requests_per_second']:.0f} | "
            f"{v['grpc_p50_ms']:.2f} | {v['rest_p50_ms']:.2f} | "
            f"{v['inprocess_p50_ms']:.2f} | {v['grpc_over_inprocess']:.2f}x |")
    return lines
