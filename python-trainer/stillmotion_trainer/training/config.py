"""The run configuration: nested dataclasses, loaded from YAML/JSON and checked in two layers.

1. schemas/train-config.v1.schema.json (the one schema, shared with the TypeScript orchestrator);
2. cross-field rules a schema cannot express (`config_rules`).

Both layers report `path: message` strings naming the key, the value and what is allowed, and
raise one typed error, `ConfigError`. Defaults live in the dataclasses below (the schema repeats
them for documentation; a test keeps the two equal). The resolved config is frozen into the run
directory as config.json.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from stillmotion_trainer.errors import StillMotionError
from stillmotion_trainer.losses.training_loss import LossConfig

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "train-config.v1.schema.json"
CONFIG_VERSION = 1


class ConfigError(StillMotionError, ValueError):
    """A bad run config. `errors` are `path: message` strings; `code` is the gRPC status."""

    code = "INVALID_ARGUMENT"

    def __init__(self, errors: list[str], source: str = "config") -> None:
        self.errors = list(errors)
        self.source = source
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"{source}: invalid training config\n{lines}")


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
        apply_override(raw, item, source=str(p))
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
    return data


def parse_override_value(text: str) -> Any:
    """`--set` values: JSON first (1e-3, true, null, [64, 48], "x"), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_override(raw: dict[str, Any], item: str, source: str = "--set") -> None:
    """Set `a.b.c=value` in the raw (not yet validated) config dict, creating sections."""
    key, sep, value = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(
            [f"--set {item!r}: expected key.path=value, e.g. train.lr=0.0005"], source
        )
    node = raw
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(parts[: i + 1])
            raise ConfigError([f"--set {item!r}: {where} is not a section"], source)
        node = child
    node[parts[-1]] = parse_override_value(value)


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


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    if not SCHEMA_PATH.is_file():
        raise FileNotFoundError(f"{SCHEMA_PATH}: training config schema not found")
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def schema_errors(raw: Any) -> list[str]:
    """Every schema violation as `path: message`, sorted by path."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: [str(p) for p in e.absolute_path])
    return [line for e in errors for line in _describe(e)]


def _dotted(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(root)"


def _describe(error: Any) -> list[str]:
    """`path: message` lines; rewrites jsonschema's wording where it hides the key."""
    path = list(error.absolute_path)
    where = _dotted(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return [
            f"{_dotted([*path, k])}: unknown key. Should be one of: {', '.join(allowed)}"
            for k in extra
        ]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [f"{_dotted([*path, missing])}: required key is missing"]
    if error.validator == "enum":
        choices = ", ".join(json.dumps(v) for v in error.validator_value)
        value = json.dumps(error.instance)
        return [f"{where}: unsupported value {value}. Should be one of: {choices}"]
    if error.validator == "oneOf":
        # Report the problems inside the branch of the value's own type (e.g. patience: 0 in
        # the object branch), not just "is not valid under any of the given schemas".
        by_branch: dict[int, list[Any]] = {}
        for sub in error.context or []:
            by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
        for subs in by_branch.values():
            if not any(s.validator == "type" and not s.relative_path for s in subs):
                return [line for s in subs for line in _describe(s)]
        options = [_schema_summary(s) for s in error.validator_value]
        return [f"{where}: {json.dumps(error.instance)} is not {' or '.join(options)}"]
    return [f"{where}: {error.message}"]


def _schema_summary(s: dict[str, Any]) -> str:
    t = s.get("type", "value")
    if t == "null":
        return "null"
    if t == "array":
        return f"a list of {s.get('minItems')} integers"
    if t == "object":
        return "an object"
    bounds = []
    if "minimum" in s:
        bounds.append(f">= {s['minimum']}")
    if "maximum" in s:
        bounds.append(f"<= {s['maximum']}")
    return f"an {t} {' and '.join(bounds)}".rstrip()


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
    if t.amp is True and t.device == "cpu":
        errors.append('train.amp: true needs CUDA, but train.device is "cpu". Use false or auto')
    try:
        generator_config_for(cfg, channels=None)
    except ValueError as e:
        errors.append(f"model.overrides: {e}")
    return errors


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
