"""Experiment 4: without a non-linearity, depth collapses (notes 003, 004).

Note 004: ``y₁ = w₁x + b₁`` followed by ``y₂ = w₂y₁ + b₂`` is again
``y = wx + b``; note 003: a network without (or with a linear) activation "is
the same as linear regression". For k Dense layers with the ``linear``
activation (row vectors, Keras's ``x W + b``)::

    f(x) = (((x W₁ + b₁) W₂ + b₂) … ) W_out + b_out = x W + b
    W = W₁ W₂ … W_k W_out
    b = (((b₁ W₂ + b₂) W₃ + b₃) … ) W_out + b_out

Each deep linear network is trained briefly on MNIST with the shared trainer
(so the biases are not zero), then collapsed to the single matrix ``W`` and
bias ``b`` (in float64) and compared with the Keras model on test images.
An affine map satisfies ``f(a + c) − f(a) − f(c) + f(0) = 0`` for any images
``a, c``; the same net with ReLU does not, and its test accuracy shows what
the non-linearity buys. The single-layer model (softmax regression,
``hidden=()``) is the baseline every linear depth reduces to.
"""

from __future__ import annotations

import keras
import numpy as np

from tfnn.config import ModelConfig
from tfnn.studies import mnist_runs
from tfnn.studies.figures import figure
from tfnn.training import TrainConfig

TITLE = "Linear collapse: a deep linear network is one linear layer"
CLAIM = ("Notes 003/004: stacking layers with a linear (or no) activation "
         "gives y = Wx + b again, the same as one layer (linear regression); "
         "only a non-linear activation makes depth add anything.")
QUICK = {
    "depths": [1, 8],
    "width": 128,
    "initializer": "xavier_normal",
    "n_train": 4000,
    "epochs": 4,
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 3e-3,
    "n_compare": 1000,  # test images compared with the collapsed map
    "n_test": 2000,
    "seed": 0,
}
FULL = dict(QUICK, depths=[1, 2, 4, 8, 12], n_train=20000, epochs=3,
            learning_rate=1e-3, n_compare=10000, n_test=10000)


def collapse(model):
    """The single ``(W, b)`` a model of Dense layers with linear activations
    computes, in float64: ``W = W₁…W_out``, ``b`` pushed through likewise."""
    W, b = None, None
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Dense):
            continue
        kernel = np.asarray(layer.kernel, dtype="float64")  # (fan_in, fan_out)
        bias = (np.asarray(layer.bias, dtype="float64") if layer.use_bias
                else np.zeros(kernel.shape[1]))
        if W is None:
            W, b = kernel, bias
        else:
            W, b = W @ kernel, b @ kernel + bias
    return W, b


def compose(model, x):
    """The model's Dense layers applied one after another in float64
    (``h ← h W_l + b_l``): the deep network without float32 rounding."""
    h = x.reshape(len(x), -1).astype("float64")  # (n, 784)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            h = h @ np.asarray(layer.kernel, dtype="float64")
            if layer.use_bias:
                h = h + np.asarray(layer.bias, dtype="float64")
    return h


def additivity_residual(model, a, c):
    """``‖f(a + c) − f(a) − f(c) + f(0)‖ / ‖f(a + c) − f(0)‖`` (0 for an
    affine map), averaged over the pairs of rows of ``a`` and ``c``."""
    zero = np.zeros_like(a[:1])

    def f(x):
        return np.asarray(model(x, training=False), dtype="float64")

    f0 = f(zero)
    lhs = f(a + c) - f(a) - f(c) + f0
    scale = np.linalg.norm(f(a + c) - f0, axis=-1)
    return float(np.mean(np.linalg.norm(lhs, axis=-1) / scale))


def run(config):
    splits = mnist_runs.mnist()
    data = mnist_runs.subset(splits, int(config["n_train"]),
                             int(config["n_test"]), n_val=1000)
    seed = int(config["seed"])
    tc = TrainConfig(optimizer=config["optimizer"],
                     learning_rate=float(config["learning_rate"]),
                     batch_size=int(config["batch_size"]),
                     epochs=int(config["epochs"]), seed=seed)
    m = int(config["n_compare"])
    x = splits.x_test[:m]
    half = m // 2
    a, c = x[:half], x[half:2 * half]

    def model_config(depth, activation):
        return ModelConfig(hidden=(int(config["width"]),) * int(depth),
                           activation=activation,
                           initializer=config["initializer"],
                           initializer_kwargs={"seed": seed})

    single = mnist_runs.train(model_config(0, "linear"), tc, data)
    rows = []
    for depth in config["depths"]:
        lin = mnist_runs.train(model_config(depth, "linear"), tc, data)
        W, b = collapse(lin.model)
        deep = np.asarray(lin.model(x, training=False), dtype="float64")
        flat = x.reshape(len(x), -1).astype("float64")  # (m, 784)
        collapsed = flat @ W + b  # (m, 10)
        diff = np.abs(deep - collapsed)
        diff64 = np.abs(compose(lin.model, x) - collapsed)
        relu = mnist_runs.train(model_config(depth, "relu"), tc, data)
        rows.append({
            "depth": int(depth),
            "max_abs_diff": float(diff.max()),
            "max_rel_diff": float(diff.max() / np.abs(deep).max()),
            "max_abs_diff_float64": float(diff64.max()),
            "output_scale": float(np.abs(deep).max()),
            "same_predictions": float(np.mean(deep.argmax(-1)
                                              == collapsed.argmax(-1))),
            "bias_norm": float(np.linalg.norm(b)),
            "linear_test_accuracy": lin.test_accuracy,
            "relu_test_accuracy": relu.test_accuracy,
            "linear_additivity": additivity_residual(lin.model, a, c),
            "relu_additivity": additivity_residual(relu.model, a, c),
            "parameters": int(lin.model.count_params()),
            # a sample for the scatter plot: deep vs collapsed logits
            "sample_deep": deep[:200].ravel(),
            "sample_collapsed": collapsed[:200].ravel(),
        })
    return {"config": dict(config), "rows": rows,
            "single_layer_test_accuracy": single.test_accuracy}


def _col(result, key):
    return np.asarray([r[key] for r in result["rows"]], dtype=float)


def plot(result):
    depths = _col(result, "depth")
    fig, axes = figure(ncols=2, nrows=2, width=5.4, height=3.8,
                       title=f"{TITLE} (MNIST, notes 003/004)")
    ax = axes[0, 0]
    deepest = result["rows"][-1]
    d = np.asarray(deepest["sample_deep"], dtype=float)
    c = np.asarray(deepest["sample_collapsed"], dtype=float)
    ax.plot(c, d, ".", ms=3, alpha=0.5, color="tab:blue")
    lim = [min(c.min(), d.min()), max(c.max(), d.max())]
    ax.plot(lim, lim, "k--", lw=0.8, label="y = x")
    ax.set(xlabel="collapsed x·W + b (float64)",
           ylabel="deep Keras model output",
           title=f"{int(deepest['depth'])} linear hidden layers vs one "
                 f"matrix: max |Δ| {deepest['max_abs_diff']:.1e}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[0, 1]
    ax.plot(depths, _col(result, "max_abs_diff"), "o-", label="max |Δ|")
    ax.plot(depths, _col(result, "max_rel_diff"), "s--",
            label="max |Δ| / max |output|")
    ax.plot(depths, np.maximum(_col(result, "max_abs_diff_float64"), 1e-17),
            "^-", label="max |Δ|, layers composed in float64")
    ax.axhline(1e-5, color="tab:red", ls=":", lw=1, label="1e-5")
    ax.set(yscale="log", xlabel="linear hidden layers k",
           ylabel="|deep − collapsed| output",
           title="difference from the one-matrix map")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[1, 0]
    ax.plot(depths, np.maximum(_col(result, "linear_additivity"), 1e-9),
            "o-", label="linear activation")
    ax.plot(depths, _col(result, "relu_additivity"), "s-", color="tab:orange",
            label="ReLU")
    ax.set(yscale="log", xlabel="hidden layers k",
           ylabel="‖f(a+c) − f(a) − f(c) + f(0)‖ / ‖f(a+c) − f(0)‖",
           title="additivity on pairs of test images (0 = affine)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[1, 1]
    ax.plot(depths, 100 * _col(result, "linear_test_accuracy"), "o-",
            label="k linear layers")
    ax.plot(depths, 100 * _col(result, "relu_test_accuracy"), "s-",
            color="tab:orange", label="k ReLU layers")
    ax.axhline(100 * result["single_layer_test_accuracy"], color="0.3",
               ls="--", lw=1, label="one layer (softmax regression)")
    ax.set(xlabel="hidden layers k", ylabel="test accuracy (%)",
           title="what depth buys: nothing without a non-linearity")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def summarize(result):
    rows = result["rows"]
    worst = max(r["max_abs_diff"] for r in rows)
    worst_rel = max(r["max_rel_diff"] for r in rows)
    worst64 = max(r["max_abs_diff_float64"] for r in rows)
    scale = max(r["output_scale"] for r in rows)
    lin_add = max(r["linear_additivity"] for r in rows)
    relu_add = min(r["relu_additivity"] for r in rows)
    lin_acc = [r["linear_test_accuracy"] for r in rows]
    relu_acc = [r["relu_test_accuracy"] for r in rows]
    single = result["single_layer_test_accuracy"]
    held = (worst64 <= 1e-5 and worst_rel <= 1e-5
            and relu_add > 100 * max(lin_add, 1e-7))
    depths = ", ".join(str(r["depth"]) for r in rows)
    return (
        f"Deep linear nets with k = {depths} hidden layers, trained briefly "
        f"on MNIST, equal the single product matrix W = W₁…W_out and the "
        f"pushed-through bias on test images: the float32 Keras model differs "
        f"from x·W + b by at most {worst:.1e} on outputs of size up to "
        f"{scale:.0f} (relative {worst_rel:.1e}: float32 rounding), the same "
        f"layers composed in float64 by {worst64:.1e}, and the predictions "
        f"are identical. Their additivity residual "
        f"‖f(a+c) − f(a) − f(c) + f(0)‖/‖f(a+c) − f(0)‖ is at most "
        f"{lin_add:.1e}, while the ReLU nets of the same depths give at "
        f"least {relu_add:.2f}: not a linear map. Test accuracy of the "
        f"linear nets stays at {100 * min(lin_acc):.1f}–"
        f"{100 * max(lin_acc):.1f} % (one layer: {100 * single:.1f} %), the "
        f"ReLU nets reach {100 * min(relu_acc):.1f}–{100 * max(relu_acc):.1f}"
        f" %. The notes' claim {'holds' if held else 'does NOT hold'}."
    )
