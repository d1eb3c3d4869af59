"""What the notes claim, measured: ``experiments`` (one module per claim,
each ``run`` → data, ``plot`` → figure), ``assignment`` (note 003's staged
journey to MNIST records), ``benchmark`` (speed beside Keras fit and
PyTorch) and ``gallery`` (docs/experiments.md); ``common`` holds the
helpers they share (data cuts, figures, statistics)."""
