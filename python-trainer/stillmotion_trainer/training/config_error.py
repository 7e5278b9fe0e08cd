"""The one error of a bad run config: `errors` are `path: message` lines, worded the same as the
orchestrator's ConfigError (packages/orchestrator/src/config/config-error.ts) for the same problem.
"""

from __future__ import annotations

from typing import Optional

from stillmotion_trainer.errors import StillMotionError


class ConfigError(StillMotionError, ValueError):
    """A bad run config. `errors` are `path: message` strings; `code` is the gRPC status."""

    code = "INVALID_ARGUMENT"

    def __init__(
        self, errors: list[str], source: str = "config", reason: Optional[str] = None
    ) -> None:
        self.errors = list(errors)
        self.source = source
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"{source}: invalid config\n{lines}", reason=reason)
