"""The benchmark's arithmetic and a tiny interleaved run (never timing)."""

import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnn import training
from tfnn.models import build_model
from tfnn.runtime import ONEDNN
from tfnn.studies import benchmark
from tfnn.studies.benchmark.profile import tfnn_step_parts, torch_step_parts
from tfnn.studies.mnist_runs import subset


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


@pytest.mark.parametrize("upstream", [None, "given"])
def test_mlp_matmuls_are_the_linear_nets_forward_and_gradients(upstream):
    """The ceiling's products are a training step's: for a linear net
    they give its output and the weight gradients of Σ output · g (g the
    given upstream gradient, or the output itself: ½‖output‖²), as
    GradientTape computes them."""
    gen = tf.random.Generator.from_seed(3)
    x = gen.normal((8, 12))
    weights = [tf.Variable(gen.normal(s)) for s in ((12, 6), (6, 5),
                                                    (5, 3))]
    g = gen.normal((8, 3)) if upstream else None
    with tf.GradientTape() as tape:
        out = x @ weights[0] @ weights[1] @ weights[2]
        loss = (tf.reduce_sum(out * g) if upstream
                else 0.5 * tf.reduce_sum(out * out))
    expected = tape.gradient(loss, weights)
    got_out, grads = benchmark.mlp_matmuls(x, weights, g)
    np_out = got_out.numpy()
    assert np_out == pytest.approx(out.numpy(), rel=1e-5, abs=1e-5)
    for got, want in zip(grads, expected):
        assert got.shape == want.shape
        assert got.numpy() == pytest.approx(want.numpy(), rel=1e-4,
                                            abs=1e-4)


def test_mlp_matmul_ceiling_runs_and_reports_examples_per_second():
    rate = benchmark.mlp_matmul_ceiling(batch=16, hidden=(8,), inputs=20,
                                        steps=5, repeats=1)
    assert rate > 0 and math.isfinite(rate)
    report = {"matmul_gflops": 10.0, "mlp_matmul_ceiling": 1000.0,
              "mlp": {"examples": 1, "batch": 128, "epochs": 1,
                      "flops_per_example": 2e6,
                      "paths": {"tfnn": {
                          "examples_per_second": 700.0, "gflops": 1.4,
                          "compile_seconds": 0.0, "test_accuracy": 0.9,
                          "rss_growth_mb": 0.0}}}}
    torch = dict(report["mlp"]["paths"]["tfnn"], examples_per_second=400.0)
    report["mlp"]["paths"]["torch"] = torch
    text = benchmark.format_report(report)
    # 1000 ex/s × 2 MFLOP = 2 GFLOP/s = 20 % of 10; tfnn 700 = 70 % of it;
    # no path can be more than 1000 / 400 = 2.5 times PyTorch
    assert "1,000 examples/s, 20 % of matmul peak" in text
    assert "tfnn runs at 70 % of it; ceiling/torch = 2.50x" in text


@pytest.mark.slow
def test_tiny_interleaved_run_and_report(mnist):
    small = subset(mnist, 512, 1000)
    result = benchmark.run_training("mlp", epochs=2, splits=small,
                                    paths=("tfnn", "prototype", "readable",
                                           "fit", "torch"))
    paths = result["paths"]
    assert {"tfnn", "prototype", "readable", "fit"} <= set(paths)
    # the prototype trains too (its own minimal model and XLA epoch)
    assert paths["prototype"]["test_accuracy"] > 0.5
    # every round runs each path once, and the order rotates: no path
    # always follows the same one
    rounds = result["rounds"]
    assert len(rounds) == 2 and all(sorted(r) == sorted(paths)
                                    for r in rounds)
    assert rounds[1] == rounds[0][1:] + rounds[0][:1]
    # each path is credited with the examples it trains: 4 full batches
    assert {p["examples_per_epoch"] for p in paths.values()} == {512}
    odd = subset(mnist, 300, 100)  # 2 full batches and 44 left over
    assert benchmark.prototype_path(odd, 128, 0).examples == 256
    for p in paths.values():
        assert len(p["epoch_seconds"]) == 2
        assert p["examples_per_second"] > 0
        assert 0.0 <= p["test_accuracy"] <= 1.0
    # two epochs on 512 examples already beat chance for the tfnn paths
    assert paths["tfnn"]["test_accuracy"] > 0.5
    report = {"matmul_gflops": 100.0, "peak_after": 100.0, "mlp": result}
    text = benchmark.format_report(report)
    assert "tfnn/readable = " in text and "| tfnn |" in text
    assert "tfnn/prototype = " in text


@pytest.mark.slow
def test_bn_dropout_mlp_row_has_the_recipes_layers(mnist):
    cfg = benchmark.tfnn_config("mlp_bn_dropout")
    assert (cfg.arch, cfg.batch_norm, cfg.dropout) == ("mlp", True, 0.2)
    result = benchmark.run_training("mlp_bn_dropout", epochs=1,
                                    splits=subset(mnist, 512, 500),
                                    paths=("tfnn", "prototype"))
    # the prototype is the plain MLP's technique: not built for BN/dropout
    assert set(result["paths"]) == {"tfnn"}
    assert result["flops_per_example"] == benchmark.mlp_flops_per_example()
    text = benchmark.format_report({"mlp_bn_dropout": result})
    assert "BN → ReLU → dropout 0.2" in text


@pytest.mark.slow
def test_serving_speed_times_a_real_server_process(mnist_raw):
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


# -- where one step goes: correctness of the profile, never its timing ------

def _trainer(arch, seed=0):
    training.set_seed(seed)
    return training.Trainer(build_model(benchmark.tfnn_config(arch, seed)),
                            keras.optimizers.Adam(1e-3), fast=True)


def _weights(trainer):
    return [v.numpy() for v in trainer.model.trainable_variables]


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_step_profile_returns_every_part(mnist, arch):
    small = subset(mnist, 256, 100)
    profile = benchmark.step_profile(arch, batch=32, repeats=2, inner=2,
                                     splits=small)
    assert profile["arch"] == arch and profile["batch"] == 32
    assert profile["xla"] == (arch == "mlp")  # as the fast path compiles
    frameworks = ["tfnn"] + (["torch"] if "torch" in profile else [])
    for f in frameworks:
        ms, frac = profile[f]["ms"], profile[f]["fraction_of_step"]
        for part in benchmark.PROFILE_PARTS:
            assert math.isfinite(ms[part]) and ms[part] > 0, (f, part)
        # the derived parts and the fractions come from the numbers returned
        assert ms["backward"] == pytest.approx(ms["forward_backward"]
                                               - ms["forward"])
        assert ms["rest"] == pytest.approx(ms["step"] - ms["forward_backward"]
                                           - ms["apply"])
        assert set(frac) == set(ms)
        for part, value in ms.items():
            assert frac[part] == pytest.approx(value / ms["step"])
        assert frac["step"] == pytest.approx(1.0)
    assert profile["tfnn"]["ms"]["call"] > 0
    if "torch" in profile:
        assert profile["torch_over_tfnn_step"] == pytest.approx(
            profile["torch"]["ms"]["step"] / profile["tfnn"]["ms"]["step"])
    text = benchmark.format_report({"step_profile": {arch: profile}})
    for row in ("gather", "forward", "backward", "apply", "rest", "step"):
        assert f"| {row} | " in text
    assert f"One {arch.upper()} train step, batch 32" in text


@pytest.mark.slow
def test_profiled_step_is_the_fast_paths_step(mnist):
    """The profile's full step moves the weights exactly as one step of the
    fast path's epoch function on the same batch; forward_backward then
    apply is that step too; the forward parts leave the weights alone."""
    b = 64
    x, y = mnist.x_train[:1000], mnist.y_train[:1000]
    order = training.epoch_order(len(x), 0, 0)
    profiled, reference, split = (_trainer("mlp") for _ in range(3))
    start = _weights(profiled)
    for t in (reference, split):
        t.model.set_weights(profiled.model.get_weights())

    parts = tfnn_step_parts(profiled, x, y, order, b)
    parts["forward"](2)
    parts["forward_backward"](2)
    parts["gather"](3)
    for w, w0 in zip(_weights(profiled), start):
        np.testing.assert_array_equal(w, w0)
    parts["step"](1)

    done, _, _, losses = reference.epoch_function(x, y, b)(
        tf_tensor(order[:b], "int32"))
    assert int(done) == 1 and losses.shape == (1,)
    changed = False
    for w, w_ref, w0 in zip(_weights(profiled), _weights(reference), start):
        # The step parts and the epoch function are two graphs: one step
        # agrees within float32 rounding.
        np.testing.assert_allclose(w, w_ref, rtol=1e-6, atol=1e-7)
        changed = changed or not np.array_equal(w, w0)
    assert changed
    assert int(profiled.optimizer.iterations) == 1

    # the two halves: gradients at the start, then one Adam apply
    tfnn_step_parts(split, x, y, order, b)["apply"](1)
    for w, w_ref in zip(_weights(split), _weights(reference)):
        np.testing.assert_allclose(w, w_ref, rtol=1e-5, atol=1e-7)


def test_torch_step_parts_train(mnist):
    pytest.importorskip("torch")
    x, y = mnist.x_train[:256], mnist.y_train[:256]
    parts = torch_step_parts("cnn", x, y, list(range(256)), 32)
    assert set(parts) == set(benchmark.PROFILE_PARTS)
    params = list(parts["step"].model.parameters())
    start = [p.detach().clone() for p in params]
    for name in ("gather", "forward", "forward_backward"):
        parts[name](2)
    assert all((p == p0).all() for p, p0 in zip(params, start))
    parts["step"](1)
    assert any((p != p0).any() for p, p0 in zip(params, start))


def tf_tensor(a, dtype="float32"):
    return tf.convert_to_tensor(a, dtype)


@pytest.mark.slow
def test_in_subprocess_runs_with_the_given_environment(mnist_builder):
    r = benchmark.in_subprocess("run_training", {ONEDNN: "1"}, arch="mlp",
                                epochs=1, n_train=512, paths=["readable"])
    assert r["onednn"] == "1" and r["env"] == {ONEDNN: "1"}
    assert r["examples"] == 512 and set(r["paths"]) == {"readable"}
    assert 0.0 <= r["paths"]["readable"]["test_accuracy"] <= 1.0
    with pytest.raises(RuntimeError, match="failed in a subprocess"):
        benchmark.in_subprocess("no_such_function", {})


@pytest.mark.slow
def test_time_to_accuracy_reports_the_first_epoch_at_target(mnist):
    small = subset(mnist, 2000, 1000)
    r = benchmark.time_to_accuracy(1.01, "mlp", max_epochs=2,
                                   paths=("readable",), splits=small)
    assert r["paths"] == {"readable": None}  # 101 % is never reached
    best = r["best"]["readable"]
    assert len(best["curve"]) == 2
    assert best["accuracy"] == max(best["curve"])
    assert best["curve"][best["epoch"] - 1] == best["accuracy"]
    # A target below the first epoch's accuracy is reached at epoch 1.
    low = best["curve"][0] / 2
    r = benchmark.time_to_accuracy(low, "mlp", max_epochs=2,
                                   paths=("readable",), splits=small)
    hit = r["paths"]["readable"]
    assert hit["epoch"] == 1 and hit["accuracy"] >= low and hit["seconds"] > 0
    assert "not within 2 epochs" in benchmark.format_report(
        {"mlp_time_to_98": dict(r, paths={"readable": None})})


@pytest.mark.slow
def test_step_profiles_run_the_cnn_with_both_kernels(mnist_builder):
    profiles = benchmark.step_profiles(("cnn",), batch=16, repeats=1,
                                       inner=1, torch=False)
    assert set(profiles) == {"cnn", "cnn_eigen"}
    assert profiles["cnn"]["onednn"] == "1"
    assert profiles["cnn_eigen"]["onednn"] == "0"
    for p in profiles.values():
        assert p["arch"] == "cnn" and p["tfnn"]["ms"]["step"] > 0
    text = benchmark.format_report({"step_profile": profiles})
    assert "without XLA; oneDNN)" in text and "without XLA; Eigen)" in text
