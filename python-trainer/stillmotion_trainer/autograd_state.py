"""Whether autograd is recording: where it is not (a frozen matcher's training pass, inference),
the CPU hot paths may compute in place and skip copies that only the backward pass needs
(models/warp.py, sliding.py; issue L)."""

from __future__ import annotations

import torch


def keeps_graph(*tensors: torch.Tensor) -> bool:
    """Whether autograd records operations on these tensors: grad mode on and one of them
    requires grad."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
