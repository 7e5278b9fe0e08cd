"""The one base error of the trainer: a gRPC status name in `code`, an optional finer `reason`.

Every typed error of the trainer derives from `StillMotionError`, so each boundary (the gRPC
server, the JSON line of a command, the orchestrator's CLI) maps errors in one place by reading
`err.code` ("INVALID_ARGUMENT", "NOT_FOUND", ... exactly as `grpc.StatusCode` names them) and,
when set, `err.reason` (a stable snake_case key such as DatasetError's "unreadable_image").
The TypeScript side mirrors it: `StillMotionError` in packages/losses/src/errors.ts.

Errors that are not ours (an OSError from a full disk, a torch RuntimeError) are described by
`describe_error`, so a failure always reaches the user as one `CODE: message` line.
"""

from __future__ import annotations

import errno
from typing import Any, Optional

# The gRPC status names a `code` may take (grpc/status.h), in their numeric order 0..16.
GRPC_CODES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)

# errno -> gRPC status for OSErrors that escape a run (disk full, permissions, missing files).
_ERRNO_CODES = {
    errno.ENOSPC: "RESOURCE_EXHAUSTED",
    errno.EDQUOT: "RESOURCE_EXHAUSTED",
    errno.EFBIG: "RESOURCE_EXHAUSTED",
    errno.ENOMEM: "RESOURCE_EXHAUSTED",
    errno.ENOENT: "NOT_FOUND",
    errno.EACCES: "PERMISSION_DENIED",
    errno.EPERM: "PERMISSION_DENIED",
    errno.EROFS: "PERMISSION_DENIED",
    errno.EIO: "DATA_LOSS",
}


class StillMotionError(Exception):
    """Base of every trainer error. `code` is a gRPC status name, `reason` an optional key.

    Subclasses either set `code` as a class attribute (ConfigError: always INVALID_ARGUMENT) or
    pass it per instance (DatasetError: from its reason). Instances survive pickling, so an error
    raised in a DataLoader worker process reaches the loop unchanged.
    """

    code: str = "INTERNAL"
    reason: Optional[str] = None

    def __init__(
        self, message: str, code: Optional[str] = None, reason: Optional[str] = None
    ) -> None:
        super().__init__(message)
        if code is not None:
            if code not in GRPC_CODES:
                raise ValueError(f"unknown gRPC status {code!r}; allowed: {', '.join(GRPC_CODES)}")
            self.code = code
        if reason is not None:
            self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's default pickling calls cls(*args), which breaks every subclass whose
        # __init__ takes other arguments (DatasetError(reason, path, message)); rebuild instead.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(
    cls: type[StillMotionError], args: tuple[Any, ...], state: dict[str, Any]
) -> StillMotionError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


def error_code(err: BaseException) -> str:
    """The gRPC status name for any exception: ours carry it; OSErrors map by errno."""
    if isinstance(err, StillMotionError):
        return err.code
    if isinstance(err, KeyboardInterrupt):
        return "CANCELLED"
    if isinstance(err, MemoryError):
        return "RESOURCE_EXHAUSTED"
    if isinstance(err, OSError) and err.errno in _ERRNO_CODES:
        return _ERRNO_CODES[err.errno]
    return "INTERNAL"


def error_message(err: BaseException) -> str:
    """One line naming what failed: ours as they are, OSErrors as `file: problem`."""
    if isinstance(err, StillMotionError):
        text = str(err)
    elif isinstance(err, OSError) and err.strerror:
        where = err.filename if err.filename is not None else type(err).__name__
        text = f"{where}: {err.strerror}"
    else:
        text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def describe_error(err: BaseException) -> str:
    """`CODE: message` on one line, the form every boundary reports (CLI, telemetry)."""
    return f"{error_code(err)}: {error_message(err)}"
