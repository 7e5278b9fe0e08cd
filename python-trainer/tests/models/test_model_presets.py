"""Presets: the three names exist, build, and overrides/unknown names behave."""

import pytest
import torch

from stillmotion_trainer.models.factory import build_generator, count_parameters
from stillmotion_trainer.models.presets import PRESETS, generator_config


def test_the_three_presets_exist():
    assert set(PRESETS) == {"tiny", "realtime", "quality"}


@pytest.mark.parametrize("name", ["tiny", "realtime", "quality"])
def test_each_preset_builds_and_runs(name):
    torch.manual_seed(0)
    g = build_generator(generator_config(name)).eval()
    with torch.no_grad():
        next_image, next_mask = g(torch.rand(1, 3, 16, 16), torch.rand(1, 1, 16, 16))
    assert next_image.shape == (1, 3, 16, 16) and next_mask.shape == (1, 1, 16, 16)


def test_presets_grow_in_size():
    sizes = [count_parameters(build_generator(generator_config(n))) for n in PRESETS]
    assert sizes == sorted(sizes)
    assert sizes[0] < 10_000  # tiny stays tiny: unit tests build it many times


def test_overrides_apply_without_touching_the_preset():
    cfg = generator_config("realtime", channels=1, variant="separate")
    assert cfg.channels == 1 and cfg.variant == "separate"
    assert PRESETS["realtime"].channels == 3 and PRESETS["realtime"].variant == "shared"


def test_unknown_preset_lists_allowed_values():
    with pytest.raises(
        ValueError, match="preset: unsupported value 'huge'.*tiny, realtime, quality"
    ):
        generator_config("huge")


def test_unknown_field_lists_allowed_fields():
    with pytest.raises(ValueError, match="unknown field.*widht.*base_width"):
        generator_config("tiny", widht=3)


def test_invalid_override_value_is_rejected():
    with pytest.raises(ValueError, match="decoder: unsupported value"):
        generator_config("tiny", decoder="pixelshuffle")
