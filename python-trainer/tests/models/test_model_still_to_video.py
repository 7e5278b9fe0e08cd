"""Still -> video (Fig. 5) with the recommended recipe's generator keeps the lesion and stays
image-like over 16 frames, on a synthetic endoscopy still (docs/recipes.md states the bands)."""

import numpy as np
import torch

from stillmotion_trainer.data.synthetic import endoscopy
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models.next_frame import generation_step

AREA_BAND = (0.7, 1.3)  # mask area / the still's mask area, every frame
STEPS = 16


def test_generated_clip_keeps_the_lesion_and_stays_image_like():
    frames, masks = endoscopy.render_video(np.random.default_rng(2), 9, (32, 32), "easy")
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255  # (9, 3, 32, 32)
    image, mask = video[:1], torch.from_numpy(masks[0])[None, None].float()
    torch.manual_seed(0)
    cfg = generator_config(
        "realtime", next_frame_input=True, mask_head="warp", mask_refine=True, image_residual=True
    )
    g = build_generator(cfg)
    # a short L_I fit on real consecutive frames, so the roll-out uses a trained image branch
    optimizer = torch.optim.Adam(g.parameters(), lr=1e-3)
    zeros = torch.zeros(8, 1, 32, 32)
    for _ in range(15):
        pred, _ = g(video[:-1], zeros, video[1:])
        loss = (pred - video[1:]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    g.eval()
    area0 = float(mask.sum())
    assert area0 > 20  # the still shows a lesion
    cur_image, cur_mask = image, mask
    with torch.no_grad():
        for t in range(STEPS):
            cur_image, cur_mask = generation_step(g, cur_image, cur_mask)
            ratio = float((cur_mask > 0.5).sum()) / area0
            assert AREA_BAND[0] <= ratio <= AREA_BAND[1], f"frame {t + 1}: area ratio {ratio:.2f}"
            # image-like: no drift to grey (contrast kept), no blow-up to noise or saturation
            assert abs(float(cur_image.mean() - image.mean())) < 0.1
            assert 0.6 <= float(cur_image.std() / image.std()) <= 1.5
            mse = float((cur_image - image).pow(2).mean())
            assert 10 * np.log10(1 / max(mse, 1e-10)) > 15  # PSNR to the still, dB
