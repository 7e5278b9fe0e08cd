"""models/ keeps its behaviour: the shipped checkpoints and seeded generators give the outputs,
state-dict keys and initial weights frozen in model_reference.npz (model_reference.py says
when and how it was written)."""

from __future__ import annotations

import numpy as np
import pytest
from model_reference import REFERENCE, SEEDED, SHIPPED, compute

# float32 outputs; the reference was written with one thread, a run may use more (another
# summation order: differences of a few ulp, far below what any change of structure makes)
ATOL = 1e-5


@pytest.fixture(scope="module")
def recomputed() -> dict[str, np.ndarray]:
    return compute()


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as ref:
        return {k: ref[k] for k in ref.files}


@pytest.mark.parametrize("name", [*SHIPPED, *(f"seeded.{s}" for s in SEEDED)])
def test_the_model_gives_its_frozen_outputs_keys_and_weights(
    name: str, recomputed: dict[str, np.ndarray], reference: dict[str, np.ndarray]
) -> None:
    expected = {k: v for k, v in reference.items() if k.startswith(f"{name}/")}
    got = {k: v for k, v in recomputed.items() if k.startswith(f"{name}/")}
    assert expected, f"{name}: not in {REFERENCE.name}"
    assert sorted(got) == sorted(expected)
    assert list(got[f"{name}/state_keys"]) == list(expected[f"{name}/state_keys"])
    np.testing.assert_allclose(
        got[f"{name}/state_sums"], expected[f"{name}/state_sums"], rtol=1e-9, atol=1e-9
    )
    for key in sorted(expected):
        if key.endswith(("/state_keys", "/state_sums")):
            continue
        assert got[key].shape == expected[key].shape, key
        np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=ATOL, err_msg=key)
