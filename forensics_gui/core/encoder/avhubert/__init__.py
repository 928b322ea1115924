"""A fairseq-free AV-HuBERT encoder: loads the official checkpoints and reproduces their features.

- :mod:`.config` -- architecture read from a checkpoint's ``cfg`` (BASE, LARGE or any size).
- :mod:`.model` -- the PyTorch modules (ResNet-18 video front end, audio projection, fusion,
  transformer encoder); imports torch.
- :mod:`.checkpoint` -- safe loading, fp16 -> fp32, weight-norm folding, strict key matching.
- the allow-listing unpickler that never runs code from a file is
  :mod:`forensics_gui.core.files.unpickler` (Phi files use it too).

Importing this package does not import torch.
"""

from forensics_gui.core.encoder.avhubert.checkpoint import (
           LoadedCheckpoint,
           load_avhubert,
           read_checkpoint,
)
from forensics_gui.core.encoder.avhubert.config import AVHubertConfig, config_from_checkpoint

__all__ = ["AVHubertConfig", "LoadedCheckpoint", "config_from_checkpoint", "load_avhubert",
           "read_checkpoint"]
