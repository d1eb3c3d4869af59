"""What the notes claim, measured: ``experiments`` (one module per claim,
each ``run`` → data, ``plot`` → figure), ``assignment`` (note 003's staged
journey to MNIST records), ``benchmark`` (speed beside Keras fit and
PyTorch), ``speedrun`` (a cold process to 99 % test accuracy, timed) and
``gallery`` (docs/experiments.md); ``common`` holds the helpers they share
(data cuts, figures, statistics), ``processes`` a function run in a fresh,
timed process and ``torch_twin`` the PyTorch copies of tfnn's models."""
