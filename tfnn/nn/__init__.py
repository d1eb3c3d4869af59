"""The notes' vocabulary as Keras objects, each registry keyed by the names
users type: ``activations``, ``layers``, ``initializers``, ``optimizers``,
``schedules`` and ``rbm`` (restricted Boltzmann machine pre-training)."""
