"""A tiny conv net exported with torch.onnx.export: proves the Python -> ONNX -> Node chain.

Writes into `out_dir`: tiny.onnx, and sample.json with the input and torch's output, which the
inference package's smoke test compares against onnxruntime-node.
"""

from __future__ import annotations

import json
import os

import torch
from torch import nn


class TinyConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # (B,3,H,W) -> (B,1,H,W)
        return torch.sigmoid(self.conv2(torch.relu(self.conv1(image))))


def export_smoke(out_dir: str, seed: int = 0, output_name: str = "output") -> dict:
    torch.manual_seed(seed)
    model = TinyConv().eval()
    image = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        output = model(image)
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, "tiny.onnx")
    torch.onnx.export(
        model,
        (image,),
        onnx_path,
        input_names=["image"],
        output_names=[output_name],
        dynamic_axes={
            "image": {0: "batch", 2: "height", 3: "width"},
            output_name: {0: "batch", 2: "height", 3: "width"},
        },
        opset_version=13,
    )
    sample = {
        "input_shape": list(image.shape),
        "input": image.flatten().tolist(),
        "output_shape": list(output.shape),
        "output": output.flatten().tolist(),
    }
    with open(os.path.join(out_dir, "sample.json"), "w") as f:
        json.dump(sample, f)
    return {"onnx": onnx_path, "sample": os.path.join(out_dir, "sample.json")}
