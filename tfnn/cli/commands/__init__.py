"""The commands of ``tfnn``, one module each (``tfnn.cli.router`` loads
the one a command line names): ``add_arguments(parser)``, ``run(args) ->
int`` and, where a setting must precede TensorFlow's import,
``before_tensorflow(argv)``."""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "assignment": "tfnn.cli.commands",
    "evaluate": "tfnn.cli.commands",
    "experiment": "tfnn.cli.commands",
    "export": "tfnn.cli.commands",
    "launch": "tfnn.cli.commands",
    "predict": "tfnn.cli.commands",
    "serve": "tfnn.cli.commands",
    "speedrun": "tfnn.cli.commands",
    "train": "tfnn.cli.commands",
    "verify": "tfnn.cli.commands",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
