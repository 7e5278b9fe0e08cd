"""The one error type of the dataset layer: every problem names the file and what is wrong."""

from __future__ import annotations

from pathlib import Path

from stillmotion_trainer.errors import StillMotionError

# Reasons (stable, also used by the TypeScript side) -> the gRPC status they map to, so a
# dataset problem reported by the trainer server keeps its meaning across the wire.
CODES: dict[str, str] = {
    "invalid_manifest": "INVALID_ARGUMENT",  # JSON or schema problem
    "unsupported_version": "INVALID_ARGUMENT",
    "unsafe_path": "INVALID_ARGUMENT",  # absolute path, `..`, backslash
    "duplicate_id": "INVALID_ARGUMENT",
    "duplicate_path": "INVALID_ARGUMENT",
    "empty_video": "INVALID_ARGUMENT",
    "bad_dimensions": "INVALID_ARGUMENT",
    "missing_file": "NOT_FOUND",
    "unreadable_image": "INVALID_ARGUMENT",  # corrupt or not an image
    "wrong_channels": "INVALID_ARGUMENT",
    "size_mismatch": "INVALID_ARGUMENT",
    "mask_not_binary": "INVALID_ARGUMENT",
    "video_too_short": "FAILED_PRECONDITION",
    "no_key_frame": "FAILED_PRECONDITION",
    "unknown_video": "INVALID_ARGUMENT",
}


class DatasetError(StillMotionError, ValueError):
    """A dataset problem: `code` the gRPC status, `reason` a key of CODES, `path` the file."""

    def __init__(self, reason: str, path: str | Path, message: str) -> None:
        if reason not in CODES:
            raise ValueError(f"unknown DatasetError reason {reason!r}; allowed: {', '.join(CODES)}")
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message} [{reason}]", code=CODES[reason], reason=reason)

    @property
    def grpc_status(self) -> str:
        """Same as `code`; kept for callers written before the common base (StillMotionError)."""
        return self.code
