"""StillMotion trainer: the next-frame image and mask generator of KR 10-2472299 B1 in PyTorch."""

__version__ = "0.1.0"
PROTOCOL = "stillmotion.trainer.v1"
