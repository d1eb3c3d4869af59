"""The benchmark's arithmetic and a tiny interleaved run (never timing)."""

import pytest

from tfnn import benchmark


def test_flops_per_example_formulas():
    # 784-256-256-10: 268,800 multiply-adds, 6 FLOPs each in training
    assert benchmark.mlp_flops_per_example() == 6 * (784 * 256 + 256 * 256
                                                     + 256 * 10)
    assert benchmark.mlp_flops_per_example() == pytest.approx(1.61e6,
                                                              rel=0.01)
    convs = 28 * 28 * 9 * 1 * 32 + 14 * 14 * 9 * 32 * 64
    dense = 7 * 7 * 64 * 128 + 128 * 10
    assert benchmark.cnn_flops_per_example() == 6 * (convs + dense)


def test_matmul_peak_is_positive():
    assert benchmark.matmul_peak(n=256, repeats=2) > 0


def test_tiny_interleaved_run_and_report(mnist):
    from tfnn.experiments._common import subset

    small = subset(mnist, 512, 1000)
    result = benchmark.run_training("mlp", epochs=2, splits=small,
                                    paths=("tfnn", "readable", "fit",
                                           "torch"))
    paths = result["paths"]
    assert {"tfnn", "readable", "fit"} <= set(paths)
    for p in paths.values():
        assert len(p["epoch_seconds"]) == 2
        assert p["examples_per_second"] > 0
        assert 0.0 <= p["test_accuracy"] <= 1.0
    # two epochs on 512 examples already beat chance for the tfnn paths
    assert paths["tfnn"]["test_accuracy"] > 0.5
    report = {"matmul_gflops": 100.0, "peak_after": 100.0, "mlp": result}
    text = benchmark.format_report(report)
    assert "tfnn/readable = " in text and "| tfnn |" in text


def test_serving_speed_times_a_real_server_process(mnist_raw):
    import os

    (_, _), (x_test, _) = mnist_raw
    model_dir = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "saved_models", "mnist")
    out = benchmark.serving_speed(model_dir, requests=3, batches=(1, 5),
                                  splits=x_test)
    assert set(out) == {"batch_1", "batch_5"}
    for v in out.values():
        assert v["http_p99_ms"] >= v["http_p50_ms"] > 0
        assert v["http_requests_per_second"] > 0
        assert v["inprocess_calls_per_second"] > 0
