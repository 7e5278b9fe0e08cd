"""One optimisation step: METHOD.md Fig. 4 on one batch, then G's step (and D's, GAN on).

    1. the batch and its walks with their seed masks (planned in the loader, walk_plan.py) on
       the device (walk_pass.prepare_walks), G along every walk (run_walks);
    2. the GAN terms L_adv and L_D (gan_step.py), D's pass taken before G moves;
    3. the training loss of steps 3-6 (+ lambda_adv L_adv) and the key-frame anchors'
       lambda_m2 L_A (key_anchor.py);
    4. G's step: backward through the AMP scaler, optional gradient clipping, AdamW, schedule;
    5. D's step on L_D; then the scaler's update, once for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from stillmotion_trainer.training.config import RunConfig
from stillmotion_trainer.training.gan_step import discriminator_step, gan_losses
from stillmotion_trainer.training.initial_mask import PURPOSE_TRAIN
from stillmotion_trainer.training.key_anchor import anchor_loss, plan_anchors
from stillmotion_trainer.training.run_state import RunState
from stillmotion_trainer.training.walk_pass import (
    WalkBatch,
    WalkInputs,
    prepare_walks,
    run_walks,
    walk_loss,
)


@dataclass
class StepResult:
    """What a step leaves for the metrics, the log and the previews."""

    terms: dict[str, torch.Tensor]  # losses.training_loss terms; total includes the anchors
    d_loss: float  # L_D before D's step (0.0 without the GAN)
    lr: float  # the learning rate G's step used
    inputs: WalkInputs
    walk_batch: WalkBatch


def train_step(
    run: RunState,
    cfg: RunConfig,
    batch: dict[str, Any],
    global_clip_ids: Sequence[int],
    device: torch.device,
    autocast: Callable[[], Any],
) -> StepResult:
    """Steps 1-5 of the module docstring at step `run.step` (which the caller then advances)."""
    next_frame_input = run.generator_config.next_frame_input
    # 1. the walks of Fig. 4 with their seed masks, then G along every walk
    inputs = prepare_walks(cfg, batch, device, PURPOSE_TRAIN, run.step, global_clip_ids)
    wb = run_walks(
        run.trained, inputs, cfg.train.bptt_window, autocast, next_frame_input=next_frame_input
    )
    # 2. the GAN terms
    gan = gan_losses(run.gan, wb, autocast) if run.gan is not None else None
    # 3. METHOD.md steps 3-6, then the key-frame anchor transitions: L_M2 of one-step walks
    terms = walk_loss(wb, run.loss_config, gan.generator if gan is not None else None)
    anchors = plan_anchors(
        cfg.train.anchor_prob, inputs.key_masks, inputs.is_key,
        seed=cfg.train.seed, purpose=PURPOSE_TRAIN, step=run.step,
        global_clip_ids=global_clip_ids,
    )  # fmt: skip
    if anchors is not None:
        terms["total"] = terms["total"] + run.loss_config.lambda_m2 * anchor_loss(
            run.trained, inputs.frames, inputs.key_masks, anchors, run.loss_config.phi,
            autocast, next_frame_input,
        )  # fmt: skip
    # 4. G's step
    lr = generator_step(run, terms["total"], cfg.train.grad_clip)
    # 5. D's step (real (I_t, I_t+1) against fake.detach()), then one scaler update for both
    d_loss = 0.0
    if run.gan is not None and gan is not None:
        d_loss = discriminator_step(run.gan, gan.discriminator, run.scaler)
    run.scaler.update()
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # so the step's time is the step's work
    return StepResult(terms=terms, d_loss=d_loss, lr=lr, inputs=inputs, walk_batch=wb)


def generator_step(run: RunState, loss: torch.Tensor, grad_clip: float) -> float:
    """Back-propagate `loss` into G, clip the gradient norm to `grad_clip` (0 = off), step
    AdamW and the schedule; returns the learning rate the step used."""
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    if grad_clip > 0:
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), grad_clip)
    run.scaler.step(run.optimizer)
    lr = float(run.optimizer.param_groups[0]["lr"])
    run.scheduler.step()
    return lr
