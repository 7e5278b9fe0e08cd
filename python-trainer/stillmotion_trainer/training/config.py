"""The run configuration: nested dataclasses, loaded from YAML/JSON and checked in two layers.

1. schemas/train-config.v1.schema.json (the one schema, shared with the TypeScript orchestrator),
   its errors worded by stillmotion_trainer.schemas exactly as the orchestrator words them;
2. cross-field rules a schema cannot express (`config_rules`).

Both layers report `path: message` strings naming the key, the value and what is allowed, and
raise one typed error, `ConfigError`. `--set key.path=value` overrides follow the grammar of
set_override.py (the same as the orchestrator's). Defaults are written in the schema; the
dataclasses below repeat them as literals so the code reads on its own, and a test keeps the two
equal. The resolved config is frozen into the run directory as config.json.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

from stillmotion_trainer import schemas
from stillmotion_trainer.losses.training_loss import LossConfig
from stillmotion_trainer.training.config_error import ConfigError
from stillmotion_trainer.training.set_override import apply_override, parse_override

SCHEMA_NAME = "train-config.v1.schema.json"
CONFIG_VERSION = 1

__all__ = ["ConfigError", "apply_override", "parse_override"]  # re-exported for callers


# --- the sections ------------------------------------------------------------------------------


@dataclass
class DataConfig:
    dataset: str = ""
    size: Union[int, list[int]] = 64  # int = square, or [height, width]
    clip_len: int = 8
    clips_per_video: Optional[int] = 4
    require_key: bool = True
    val_fraction: float = 0.1
    augment: bool = True
    batch_size: int = 4  # global, split over distributed processes
    num_workers: int = 2

    def hw(self) -> tuple[int, int]:
        if isinstance(self.size, int):
            return (self.size, self.size)
        return (int(self.size[0]), int(self.size[1]))


@dataclass
class ModelConfig:
    preset: str = "realtime"
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class SchedulerConfig:
    name: str = "constant"  # constant | cosine | linear
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1
    horizon: str = "max_steps"  # max_steps | time_budget: what the decay runs out over


@dataclass
class DiscriminatorSettings:
    base_width: int = 32
    depth: int = 3


@dataclass
class GanConfig:
    enabled: bool = False
    lr: float = 0.0002
    loss_kind: str = "bce"
    discriminator: DiscriminatorSettings = field(default_factory=DiscriminatorSettings)


@dataclass
class TrainConfig:
    mode: str = "forward"  # forward | reverse | fused | keyframe (claim 4)
    initial_mask: str = "random"  # random | keyframe | zeros
    reseed_prob: float = 0.0  # seeds swapped for a random or empty mask (initial_mask.reseed)
    anchor_prob: float = 0.0  # key-frame anchor transitions per clip (key_anchor.py)
    freeze_displacement: bool = False  # warp head's estimator kept fixed, run without grad
    bptt_window: int = 0  # 0 = whole walk
    lr: float = 0.001
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    amp: Union[str, bool] = "auto"
    gan: GanConfig = field(default_factory=GanConfig)
    fail_on_collapse: bool = False  # stop with reason "collapse" (training/collapse.py)


@dataclass
class ValConfig:
    every_n_steps: int = 100  # 0 = never
    max_batches: Optional[int] = None


@dataclass
class EarlyStoppingConfig:
    patience: int = 5
    min_delta: float = 0.0


@dataclass
class StopConfig:
    max_steps: Optional[int] = 1000
    max_epochs: Optional[int] = None
    time_budget_s: Optional[float] = None
    target_loss: Optional[float] = None
    early_stopping: Optional[EarlyStoppingConfig] = None


@dataclass
class CheckpointConfig:
    every_n_steps: int = 500  # 0 = only at the end
    keep_last: int = 3
    run_dir: str = "runs/default"


@dataclass
class LogConfig:
    every_n_steps: int = 10
    preview_every_n_steps: int = 100  # 0 = never
    preview_count: int = 2


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    val: ValConfig = field(default_factory=ValConfig)
    stop: StopConfig = field(default_factory=StopConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)
    version: int = CONFIG_VERSION
    name: Optional[str] = None


# --- loading -----------------------------------------------------------------------------------


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> RunConfig:
    """Read a YAML or JSON config file, apply `--set key.path=value` overrides, validate."""
    p = Path(path)
    raw = read_config_file(p)
    for item in overrides:
        apply_override(raw, item)
    return config_from_dict(raw, source=str(p))


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw mapping in a .yaml/.yml/.json file (not validated yet)."""
    if not path.is_file():
        raise ConfigError([f"(file): not found: {path}"], str(path))
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ConfigError(
            [f"(file): unsupported extension {suffix!r}. Should be one of: .yaml, .yml, .json"],
            str(path),
        )
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError([f"(file): not valid JSON (line {e.lineno}): {e.msg}"], str(path))
    else:
        import yaml  # type: ignore[import]  # no stubs on the Debian machines

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError([f"(file): not valid YAML: {e}"], str(path)) from e
    if not isinstance(data, dict):
        raise ConfigError([f"(root): expected a mapping, got {type(data).__name__}"], str(path))
    # Every range check of the schema lets NaN through (comparisons with it are false).
    for where, number in _non_finite(data, []):
        shown = "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
        raise ConfigError(
            [
                f"(file): cannot parse: {schemas.json_path(where)}: {shown} is not a finite "
                "number (JSON has no NaN or Infinity)"
            ],
            str(path),
        )
    return data


def _non_finite(data: Any, where: list[Any]) -> Iterator[tuple[list[Any], float]]:
    """(location, value) of every NaN or infinity (YAML's .nan/.inf, Python json's NaN)."""
    if isinstance(data, float) and not math.isfinite(data):
        yield where, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _non_finite(value, [*where, key])
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _non_finite(value, [*where, index])


def config_from_dict(raw: dict[str, Any], source: str = "config") -> RunConfig:
    """Schema check, then build the dataclasses, then the cross-field rules."""
    errors = schema_errors(raw)
    if errors:
        raise ConfigError(errors, source)
    cfg = _build(RunConfig, raw, "")
    errors = config_rules(cfg)
    if errors:
        raise ConfigError(errors, source)
    return cfg


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    """Plain JSON-able dict (the form frozen into config.json; it validates against the schema)."""
    return dataclasses.asdict(cfg)


# --- layer 1: the schema -----------------------------------------------------------------------


def schema_errors(raw: Any) -> list[str]:
    """Every violation of the run config schema as `path: message`, sorted."""
    return schemas.schema_errors(raw, SCHEMA_NAME)


# --- building the dataclasses ------------------------------------------------------------------


def _build(cls: Any, raw: dict[str, Any], where: str) -> Any:
    """Instantiate dataclass `cls` from an already schema-valid dict (missing keys -> defaults)."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        target = _dataclass_in(hints[f.name])
        if target is not None and isinstance(value, dict):
            value = _build(target, value, f"{where}{f.name}.")
        elif isinstance(value, (dict, list)):
            value = json.loads(json.dumps(value))  # detach from the caller's dict
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except ValueError as e:  # LossConfig checks its own fields
        raise ConfigError([f"{where.rstrip('.') or '(root)'}: {e}"]) from e


def _dataclass_in(hint: Any) -> Any:
    """The dataclass in `hint` (also inside Optional[...]), or None."""
    if dataclasses.is_dataclass(hint):
        return hint
    for arg in typing.get_args(hint):
        if dataclasses.is_dataclass(arg):
            return arg
    return None


# --- layer 2: cross-field rules ----------------------------------------------------------------


def config_rules(cfg: RunConfig) -> list[str]:
    """Rules the schema cannot express; each returns `path: message`."""
    errors: list[str] = []
    t, d, s = cfg.train, cfg.data, cfg.stop
    keyed = t.mode in ("keyframe", "cycle")  # walks that start at a key frame
    if t.initial_mask == "keyframe" and not keyed:
        errors.append(
            f'train.initial_mask: "keyframe" needs train.mode "keyframe" or "cycle" (got mode '
            f"{t.mode!r}): only those walks are sure to start at a key frame. "
            "Use initial_mask random or zeros, or mode keyframe"
        )
    if (keyed or t.initial_mask == "keyframe") and not d.require_key:
        errors.append(
            f"data.require_key: must be true with train.mode {t.mode!r} and train.initial_mask "
            f"{t.initial_mask!r} (a keyframe walk needs a key frame in every clip)"
        )
    if t.anchor_prob > 0 and not d.require_key:
        errors.append(
            "data.require_key: must be true with train.anchor_prob > 0 (an anchor transition "
            "lands on a key frame of its clip)"
        )
    mask_head = cfg.model.overrides.get("mask_head") if cfg.model.overrides else None
    if t.freeze_displacement and mask_head != "warp":
        errors.append(
            "train.freeze_displacement: only the warp mask head has a displacement estimator "
            f"(model.overrides.mask_head is {mask_head!r}); set mask_head warp or leave it false"
        )
    decaying = t.scheduler.name in ("cosine", "linear")
    if decaying and t.scheduler.horizon == "max_steps" and s.max_steps is None:
        errors.append(
            f"train.scheduler.name: {t.scheduler.name!r} decays until stop.max_steps, which is "
            'null. Set stop.max_steps, use train.scheduler.horizon "time_budget" with '
            'stop.time_budget_s, or use scheduler "constant"'
        )
    if decaying and t.scheduler.horizon == "time_budget" and s.time_budget_s is None:
        errors.append(
            'train.scheduler.horizon: "time_budget" decays until stop.time_budget_s, which is '
            'null. Set stop.time_budget_s or use horizon "max_steps"'
        )
    if s.max_steps is not None and t.scheduler.warmup_steps >= s.max_steps:
        errors.append(
            f"train.scheduler.warmup_steps: {t.scheduler.warmup_steps} must be < stop.max_steps "
            f"({s.max_steps})"
        )
    if s.early_stopping is not None:
        if d.val_fraction <= 0:
            errors.append(
                "stop.early_stopping: needs a validation split, but data.val_fraction is "
                f"{d.val_fraction}. Set data.val_fraction > 0 or stop.early_stopping null"
            )
        if cfg.val.every_n_steps == 0:
            errors.append(
                "stop.early_stopping: needs validation, but val.every_n_steps is 0 (never). "
                "Set val.every_n_steps > 0 or stop.early_stopping null"
            )
    if t.gan.enabled and cfg.loss.lambda_adv <= 0:
        errors.append(
            f"loss.lambda_adv: must be > 0 when train.gan.enabled is true (got "
            f"{cfg.loss.lambda_adv}); otherwise the discriminator never shapes the generator"
        )
    if not t.gan.enabled and cfg.loss.lambda_adv > 0:
        errors.append(
            f"loss.lambda_adv: is {cfg.loss.lambda_adv} but train.gan.enabled is false. "
            "Enable the GAN or set lambda_adv to 0"
        )
    if t.device != "auto":  # the device is known now; with auto, the loop checks it
        try:
            amp_enabled(t, t.device)
        except ConfigError as e:
            errors.extend(e.errors)
    try:
        generator_config_for(cfg, channels=None)
    except ValueError as e:
        errors.append(f"model.overrides: {e}")
    return errors


def amp_enabled(train: TrainConfig, device_type: str) -> bool:
    """Whether mixed precision is on for this device ("cpu" or "cuda"): true, or auto on CUDA.

    The one check of train.amp: ConfigError when amp is true but the device is not CUDA.
    """
    if train.amp is True and device_type != "cuda":
        raise ConfigError(
            [f'train.amp: true needs CUDA, but the device is "{device_type}". Use false or auto']
        )
    return train.amp is True or (train.amp == "auto" and device_type == "cuda")


def generator_config_for(cfg: RunConfig, channels: Optional[int]) -> Any:
    """The GeneratorConfig of this run; `channels` (from the dataset) fills in when not set.

    An explicit model.overrides.channels that differs from the dataset's is an error, never
    silently replaced.
    """
    from stillmotion_trainer.models.presets import generator_config

    overrides = dict(cfg.model.overrides)
    if channels is not None:
        given = overrides.get("channels")
        if given is not None and given != channels:
            raise ConfigError(
                [
                    f"model.overrides.channels: {given} does not match the dataset's {channels} "
                    "channel(s); remove the override or use a matching dataset"
                ]
            )
        overrides["channels"] = channels
    return generator_config(cfg.model.preset, **overrides)


FROZEN_ON_RESUME_EXEMPT = ("stop", "log", "checkpoint", "val.max_batches", "data.num_workers")


def resume_differences(frozen: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Keys whose change would make a resumed run a different run (everything but stop/log/...).

    The stop condition that sets a decaying schedule's horizon (stop.max_steps, or
    stop.time_budget_s with horizon "time_budget") is not exempt.
    """
    diffs: list[str] = []
    scheduler = frozen.get("train", {}).get("scheduler", {})
    decaying = scheduler.get("name", "constant") != "constant"
    horizon = scheduler.get("horizon", "max_steps")
    kept = (
        {"stop.max_steps" if horizon == "max_steps" else "stop.time_budget_s"}
        if decaying
        else set()
    )

    def exempt(path: str) -> bool:
        if path in kept:
            return False
        return any(path == p or path.startswith(p + ".") for p in FROZEN_ON_RESUME_EXEMPT)

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict) and path != "model.overrides":
            for k in sorted(set(a) | set(b)):
                walk(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        elif a != b and not exempt(path):
            diffs.append(f"{path}: was {json.dumps(a)} in the run, now {json.dumps(b)}")

    walk(frozen, current, "")
    return diffs
