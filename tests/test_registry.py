"""tfnn.registry: the names users type, folded one way everywhere."""

import pytest

from tfnn.data.official import check_dataset
from tfnn.data.preprocessing import check_preprocessing
from tfnn.nn import optimizers
from tfnn.registry import Registry, check_key


def test_check_key_folds_case_and_dashes():
    assert check_key("Leaky-ReLU", {"leaky_relu", "relu"}, "activation") == (
        "leaky_relu")
    assert check_dataset("Fashion-MNIST") == "fashion_mnist"
    assert check_preprocessing("MinMax") == "minmax"


def test_check_key_names_the_kind_the_value_and_the_sorted_choices():
    with pytest.raises(ValueError) as err:
        check_key("adamw", {"sgd", "adam"}, "optimizer")
    assert str(err.value) == (
        "Unknown optimizer 'adamw'; choose from ['adam', 'sgd']")


@pytest.mark.parametrize("kind", ["thing", "dataset", "preprocessing",
                                  "optimizer"])
def test_every_lookup_answers_an_unknown_name_the_same_way(kind):
    registry = Registry("thing")
    registry.add("one", lambda: 1)
    lookup = {"thing": registry.key, "dataset": check_dataset,
              "preprocessing": check_preprocessing,
              "optimizer": optimizers.family}[kind]
    with pytest.raises(ValueError,
                       match=rf"^Unknown {kind} 'nope'; choose from \['"):
        lookup("nope")
