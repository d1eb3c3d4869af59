"""The helpers the studies share: MNIST cut to size
(``tfnn.studies.mnist_runs``), the figure without pyplot
(``tfnn.studies.figures``) and the arithmetic on measured numbers
(``tfnn.studies.measures``; ``mean_std`` in test_assignment.py)."""

import math
import sys

import numpy as np
import pytest

from tfnn.data import Splits
from tfnn.studies.figures import figure
from tfnn.studies.measures import percent, ratio, trailing_mean
from tfnn.studies.mnist_runs import subset


def test_ratio_defines_division_by_zero():
    assert ratio(3, 4) == 0.75
    assert math.isnan(ratio(0, 0))
    assert ratio(2, 0) == math.inf


def test_percent_has_two_decimals():
    assert percent(0.5) == "50.00 %"
    assert percent(np.float32(0.98761)) == "98.76 %"


def test_trailing_mean_averages_the_last_n_steps_from_step_0():
    steps, means = trailing_mean([1.0, 2.0, 3.0, 4.0, 10.0], 2)
    np.testing.assert_array_equal(steps, [0, 1, 2, 3, 4])
    # (y[i-1] + y[i]) / 2, and y[0] alone at the start
    np.testing.assert_allclose(means, [1.0, 1.5, 2.5, 3.5, 7.0])
    steps, means = trailing_mean([1.0, 5.0, 9.0], 5)  # fewer than n
    np.testing.assert_allclose(means, [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(trailing_mean([4.0, 2.0], 1)[1], [4, 2])


def test_figure_is_a_grid_without_pyplot():
    before = (sys.modules["matplotlib.pyplot"].get_fignums()
              if "matplotlib.pyplot" in sys.modules else [])
    fig, axes = figure(ncols=3, nrows=2, width=2.0, height=1.5, title="T")
    assert axes.shape == (2, 3)
    assert tuple(fig.get_size_inches()) == pytest.approx((6.0, 3.0))
    assert fig.get_suptitle() == "T"
    after = (sys.modules["matplotlib.pyplot"].get_fignums()
             if "matplotlib.pyplot" in sys.modules else [])
    assert after == before  # nothing registered, nothing to close


def test_subset_cuts_each_split_from_the_front():
    splits = Splits(*(np.arange(10) + k for k in range(6)),
                    preprocessor=None, dataset="fake")
    cut = subset(splits, n_train=4, n_test=3, n_val=0)
    np.testing.assert_array_equal(cut.x_train, np.arange(4))
    np.testing.assert_array_equal(cut.y_train, np.arange(4) + 1)
    assert len(cut.x_val) == len(cut.y_val) == 0  # no validation pass
    np.testing.assert_array_equal(cut.y_test, np.arange(3) + 5)
    assert cut.dataset == "fake" and len(splits.x_train) == 10  # a copy
    assert len(subset(splits).x_train) == 10  # None keeps all
