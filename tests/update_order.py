"""The update order every BCE GAN adapter keeps (docs/models.md#update-order), tested through
its forward outputs: shared by tests/dcgan_shared.py and tests/pacgan_shared.py."""

from __future__ import annotations

import numpy as np
import pytest


def bce(logits: np.ndarray, target: float) -> float:
    x = logits.astype(np.float64)
    return float(np.mean(np.maximum(x, 0) - x * target + np.log1p(np.exp(-np.abs(x)))))


def assert_update_order(build_adapter, inputs) -> None:
    """loss_d is D's loss before its update; loss_g goes through the updated D on the same fake
    (a GAN adapter whose forward gives D(x) and D(G(z))); every trainable weight moved."""
    adapter = build_adapter()
    staged = adapter.stage(*inputs)
    before = adapter.get_weights()
    adapter.train_step(staged)
    losses, after = adapter.losses(), adapter.get_weights()

    reference = build_adapter()
    reference.set_weights(before)
    old = reference.forward(staged)
    reference.set_weights({k: after[k] if k.startswith("D.") else v for k, v in before.items()})
    new = reference.forward(staged)

    assert losses["loss_d"] == pytest.approx(bce(old["D(x)"], 1) + bce(old["D(G(z))"], 0),
                                             rel=1e-5)
    assert losses["loss_g"] == pytest.approx(bce(new["D(G(z))"], 1), rel=1e-5)
    assert all(not np.array_equal(before[k], after[k])
               for k in adapter.config.trainable_names())
