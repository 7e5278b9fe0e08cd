"""Whether a graph is being recorded: where none is (a frozen matcher's training pass,
inference), the CPU hot paths may compute in place and skip copies that only the backward pass
needs (models/warp.py, sliding.py; issue L)."""

from __future__ import annotations

import torch


def keeps_graph(*tensors: torch.Tensor) -> bool:
    """Whether operations on these tensors are recorded: by autograd (grad mode on and one of
    them requires grad) or by a trace (the ONNX export, which must see the plain operations)."""
    return torch.jit.is_tracing() or (
        torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    )
