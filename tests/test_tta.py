"""Test-time shifts (tfnn.models.tta) and ensembles (tfnn.models.ensembles):
the layers against the NumPy reference, serialization, and an ensemble with
shifts exported and scored from its SavedModel on the real test set."""

import numpy as np
import pytest
import tensorflow as tf

from tfnn.config import ModelConfig
from tfnn.models import build_model, load_model, tta
from tfnn.models.ensembles import (
    ensemble_model,
    probabilities,
    shifted_accuracy,
)
from tfnn.shipping import export_savedmodel, verify
from tfnn.studies import mnist_runs
from tfnn.training import TrainConfig


def test_offsets_grid_starts_at_the_identity():
    assert tta.offsets(0) == [(0, 0)]
    grid = tta.offsets(1)
    assert grid[0] == (0, 0) and len(grid) == 9 == len(set(grid))
    assert {abs(d) for pair in grid for d in pair} == {0, 1}
    assert len(tta.offsets(2)) == 25
    with pytest.raises(ValueError, match="non-negative integer"):
        tta.offsets(-1)


def test_offsets_plus_is_the_identity_and_the_axis_shifts():
    assert tta.offsets(0, "plus") == [(0, 0)]
    plus = tta.offsets(1, "plus")
    assert plus[0] == (0, 0) and len(plus) == 5 == len(set(plus))
    assert all(dy == 0 or dx == 0 for dy, dx in plus)
    assert set(plus) <= set(tta.offsets(1))
    two = tta.offsets(2, "plus")
    assert len(two) == 9 and (2, 0) in two and (1, 1) not in two
    with pytest.raises(ValueError, match="shift pattern 'diagonal'"):
        tta.offsets(1, "diagonal")


def test_shift_copies_plus_pattern_round_trips(tmp_path):
    x = np.random.default_rng(3).normal(size=(2, 28, 28)).astype("float32")
    layer = tta.ShiftCopies(max_shift=1, fill=0.5, pattern="plus")
    out = np.asarray(layer(x))
    assert layer.copies == 5 and out.shape == (10, 28, 28)
    for k, (dy, dx) in enumerate(tta.offsets(1, "plus")):
        np.testing.assert_array_equal(out[2 * k:2 * (k + 1)],
                                      tta.shift_images(x, dy, dx, 0.5))
    again = tta.ShiftCopies.from_config(layer.get_config())
    assert again.pattern == "plus" and again.offsets == layer.offsets


def test_shifted_accuracy_is_the_argmax_of_the_mean_softmax():
    (model,) = _members(1)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 28, 28)).astype("float32")
    fill = -0.3
    p = np.mean([tf.nn.softmax(model(tta.shift_images(x, dy, dx, fill)))
                 .numpy() for dy, dx in tta.offsets(1, "plus")], axis=0)
    top2 = np.sort(p, axis=1)[:, -2:]
    # No near tie (float32 noise across batch shapes is ~1e-7): the classes
    # below do not depend on shifted_accuracy's batches of 24.
    assert (top2[:, 1] - top2[:, 0]).min() > 1e-4
    y = p.argmax(1)
    y[:16] = (y[:16] + 1) % 10  # a quarter wrong on purpose
    assert shifted_accuracy(model, x, y, 1, fill, "plus",
                            batch_size=24) == 0.75
    plain = tf.argmax(model(x), axis=1).numpy()
    assert shifted_accuracy(model, x, y, 0) == np.mean(plain == y)

def test_shift_images_moves_a_pixel_and_fills_the_edge():
    x = np.zeros((1, 5, 5), np.float32)
    x[0, 2, 2] = 1.0
    x[0, 0, :] = 2.0  # the top row leaves the image on a shift up
    down_right = tta.shift_images(x, 1, 1, fill=-0.5)
    assert down_right[0, 3, 3] == 1.0 and down_right[0, 2, 2] == 0.0
    np.testing.assert_array_equal(down_right[0, 0, :], -0.5)  # moved in
    np.testing.assert_array_equal(down_right[0, :, 0], -0.5)
    np.testing.assert_array_equal(down_right[0, 1, 1:], 2.0)
    up = tta.shift_images(x, -1, 0)
    assert up[0, 1, 2] == 1.0 and not (up == 2.0).any()


@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 28, 28, 1)])
def test_shift_copies_stacks_every_offset_like_the_reference(shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    layer = tta.ShiftCopies(max_shift=1, fill=-0.42)
    out = np.asarray(layer(x))
    assert out.shape == (9 * 3, *shape[1:])
    for k, (dy, dx) in enumerate(tta.offsets(1)):
        np.testing.assert_array_equal(out[3 * k:3 * (k + 1)],
                                      tta.shift_images(x, dy, dx, -0.42))


def test_mean_over_copies_inverts_the_stacking():
    rng = np.random.default_rng(1)
    per_copy = rng.random((4, 6, 10)).astype("float32")  # (S, n, classes)
    out = np.asarray(tta.MeanOverCopies(4)(per_copy.reshape(24, 10)))
    np.testing.assert_allclose(out, per_copy.mean(0), rtol=1e-6)
    with pytest.raises(ValueError, match="positive integer"):
        tta.MeanOverCopies(0)


def _members(n=2, hidden=(16,)):
    return [build_model(ModelConfig(hidden=hidden,
                                    initializer_kwargs={"seed": s}))
            for s in range(n)]


def test_ensemble_with_shifts_is_the_mean_over_members_and_copies(tmp_path):
    members = _members()
    x = np.random.default_rng(2).normal(size=(20, 28, 28)).astype("float32")
    fill = -0.4242
    ens = ensemble_model(members, max_shift=1, fill=fill)
    expected = np.mean([tf.nn.softmax(m(tta.shift_images(x, dy, dx, fill)))
                        .numpy() for m in members
                        for dy, dx in tta.offsets(1)], axis=0)
    np.testing.assert_allclose(probabilities(ens, x), expected,
                               atol=1e-6)
    # It differs from the plain ensemble (the shifts do something) …
    plain = probabilities(ensemble_model(members), x)
    assert np.abs(plain - expected).max() > 1e-3
    # … and saves and loads with its configuration.
    path = str(tmp_path / "ens.keras")
    ens.save(path)
    loaded = load_model(path, compile=False)
    assert loaded.get_layer("tta_shifts").get_config()["fill"] == fill
    np.testing.assert_allclose(probabilities(loaded, x), expected,
                               atol=1e-6)


@pytest.mark.slow
def test_ensemble_with_shifts_exports_and_scores_from_its_savedmodel(
        mnist, tmp_path):
    splits = mnist_runs.subset(mnist, 2000, None, 500)
    members = [
        mnist_runs.train(ModelConfig(hidden=(32,),
                                     initializer_kwargs={"seed": s}),
                         TrainConfig(epochs=1, seed=s), splits).model
        for s in (0, 1)]
    fill = float(mnist.preprocessor(np.zeros(1))[0])
    ens = ensemble_model(members, max_shift=1, fill=fill)
    path = export_savedmodel(ens, mnist.preprocessor, str(tmp_path),
                             name="tta", dataset="mnist")
    checked = verify(path, model=ens)  # same class on all 10,000 images
    assert checked["n"] == 10_000
    expected = np.mean(probabilities(ens, mnist.x_test).argmax(1)
                       == mnist.y_test)
    # verify accepts either class where the two best scores tie (within
    # float32 noise across batch shapes and graphs): up to 5 such images.
    assert checked["accuracy"] == pytest.approx(expected, abs=5e-4)
    assert checked["accuracy"] > 0.5  # far above chance (10 %)
