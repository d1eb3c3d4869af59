"""The experiment registry, configs, CLI and gallery (each experiment's own
claims are tested by topic: test_activation_experiments.py,
test_init_and_normalization_experiments.py,
test_optimization_experiments.py,
test_capacity_and_regularization_experiments.py and
test_workflow_experiments.py)."""

import json
import re

import pytest

from tfnn.cli import main
from tfnn.studies import experiments
from tfnn.studies.gallery import write_gallery


def test_registry_holds_all_16_experiments_of_the_notes():
    assert len(experiments.names()) == 16
    for number, name in enumerate(experiments.names(), 1):
        assert experiments.EXPERIMENTS[name] == number


@pytest.mark.parametrize("name", experiments.names())
def test_module_contract(name):
    # The one check of what every experiment module provides (see
    # tfnn/studies/experiments/__init__.py).
    module = experiments.get(name)
    assert module.__doc__ and module.TITLE and module.CLAIM
    assert re.search(r"\b00[0-4]\b", module.CLAIM), "CLAIM names no note"
    for attr in ("run", "plot", "summarize"):
        assert callable(getattr(module, attr)), f"{name} lacks {attr}"
    assert set(module.QUICK) == set(module.FULL), name
    json.dumps(module.QUICK)  # configs are plain JSON values
    json.dumps(module.FULL)


def test_unknown_names_modes_and_keys_are_clear_errors():
    with pytest.raises(ValueError, match="activation_histograms"):
        experiments.get("histograms")
    with pytest.raises(ValueError, match="quick"):
        experiments.config("activations", "medium")
    with pytest.raises(ValueError, match="points"):
        experiments.config("activations", "quick", pointz=3)
    assert experiments.config("activations", "quick", points=11)["points"] \
        == 11


def test_cli_list_and_run(tmp_path, capsys):
    assert main(["experiment", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in experiments.names())
    assert main(["experiment", "run", "activations", "--quick", "--out",
                 str(tmp_path)]) == 0
    assert (tmp_path / "activations.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "activations.json").read_text())["mode"] \
        == "quick"


@pytest.mark.slow
def test_gallery_writes_sections_and_keeps_what_was_not_rerun(tmp_path):
    path = write_gallery(str(tmp_path), mode="quick", only=["activations"])
    text = open(path).read()
    assert "## 1. Activation functions" in text
    assert "figures/activations.png" in text and "Claim holds" in text
    assert text.count("_not run yet_") == 15
    again = open(write_gallery(str(tmp_path), mode="quick", only=[])).read()
    assert "Claim holds" in again  # summarized from the saved JSON


# --------------------------------------------------------------------------
# The contract every experiment keeps (quick mode, real MNIST: slow)
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("mnist_manual_dir", "mnist_builder")
@pytest.mark.parametrize("name", experiments.names())
def test_files_plot_and_summary(name, run_quick, experiment_dir,
                                check_figure):
    # NAME.png and NAME.json written; plot and summarize work on the result
    # and on its JSON form (lists, string keys, as the gallery reads it),
    # and the summary is one paragraph, the same from both.
    result = run_quick(name)
    module = experiments.get(name)
    assert (experiment_dir / f"{name}.png").stat().st_size > 10_000
    loaded = json.loads((experiment_dir / f"{name}.json").read_text())
    for form in (result, loaded):
        check_figure(module.plot(form))
    text = module.summarize(loaded)
    assert text == module.summarize(result)
    assert "\n" not in text.strip() and len(text) > 200


@pytest.mark.slow
@pytest.mark.usefixtures("mnist_manual_dir", "mnist_builder")
@pytest.mark.parametrize("name", ("lr_sweep", "random_search",
                                  "assignment_steps"))
def test_summary_says_the_claim_held(name, run_quick):
    text = experiments.get(name).summarize(run_quick(name))
    assert "%" in text and "NOT" not in text
