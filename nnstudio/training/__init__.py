"""Training: the loop as a generator of plain events, its settings, metrics and hints (no Qt here).

Import the pieces from their modules (``nnstudio.training.trainer.Trainer``,
``nnstudio.training.config.TrainingConfig``, ``nnstudio.training.events``); this package module stays light
so that importing it does not load the data registry.
"""
