"""Style transfer in PyTorch: VGG19 taps, loss, Adam-and-clip step, FLOPs, weights.

What every adapter does alike is tests/style_transfer_shared.py, imported here. Modes and
the rest of the adapter contract: bench/testing/test_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from style_transfer_shared import *  # noqa: F403  (the shared tests)
from style_transfer_shared import SMALL, adapter_with_image, noise_image
from torch.utils.flop_counter import FlopCounterMode

from bench import layouts
from bench.errors import UsageError
from implementations.spec.style_transfer import (
    TAPS,
    StyleTransferConfig,
    gram_numpy,
    loss_terms_numpy,
)
from implementations.torch.style_transfer import (
    VGG19_FILE,
    StyleTransferAdapter,
    export_vgg19_npz,
    gram,
    loss_terms,
    normalize,
    vgg_taps,
)

FRAMEWORK = "torch"


# --- the spec ---


@pytest.mark.parametrize("change", [{"batch_size": 2}, {"size": 16}, {"width": 0},
                                    {"vgg_weights": "vgg.npz", "width": 8}, {"eps": 0.0},
                                    {"weight_seed": -1}])
def test_config_refuses_what_cannot_work(change):
    with pytest.raises(UsageError):
        StyleTransferConfig(**change).validate()


def test_vgg_weights_file_errors_name_the_problem(tmp_path):
    with pytest.raises(UsageError, match="no such VGG weights file"):
        StyleTransferConfig(vgg_weights=str(tmp_path / "none.npz")).vgg_state()
    np.savez(tmp_path / "partial.npz", **{"features.0.weight": np.zeros((64, 3, 3, 3))})
    with pytest.raises(UsageError, match="missing features.0.bias"):
        StyleTransferConfig(vgg_weights=str(tmp_path / "partial.npz")).vgg_state()


# --- network and loss ---


def test_taps_are_torchvisions_vgg19_features_from_an_exported_pth(tmp_path):
    """Export a torchvision VGG19 .pth as a user would; the taps equal torchvision's own."""
    reference = torchvision.models.vgg19(weights=None).eval()
    torch.save(reference.state_dict(), tmp_path / VGG19_FILE)
    npz = export_vgg19_npz(tmp_path / VGG19_FILE, tmp_path / "vgg19.npz")
    cfg = StyleTransferConfig(size=32, vgg_weights=str(npz))
    adapter = StyleTransferAdapter(cfg)
    assert adapter.tags() == {"weights": "vgg19.npz"}
    outputs = adapter.forward(adapter.stage(cfg.load_data()))
    image = torch.from_numpy(layouts.nhwc_to_nchw(cfg.initial_image()))
    with torch.no_grad():
        for name, index in TAPS.items():
            expected = reference.features[: index + 1](normalize(image)).numpy()
            np.testing.assert_array_equal(outputs[name], layouts.nchw_to_nhwc(expected))


def test_export_without_weights_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    expected = tmp_path / "checkpoints" / VGG19_FILE
    with pytest.raises(UsageError, match=f"no VGG19 weights at {expected}; put"):
        export_vgg19_npz(None, tmp_path / "out.npz")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(UsageError, match="not a loadable state dict"):
        export_vgg19_npz(tmp_path / "junk.pth", tmp_path / "out.npz")


def test_gram_is_ft_f_over_positions():
    features = torch.randn(1, 5, 6, 7, generator=torch.Generator().manual_seed(0))
    expected = gram_numpy(layouts.nchw_to_nhwc(features.numpy()))
    np.testing.assert_allclose(gram(features).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_loss_terms_match_the_numpy_reference():
    adapter = adapter_with_image(StyleTransferAdapter, SMALL, noise_image(SMALL))
    staged = adapter.stage(SMALL.load_data())
    outputs = adapter.forward(staged)
    style_targets = {name: value.numpy() for name, value in adapter.style_targets.items()}
    expected = loss_terms_numpy(SMALL, layouts.nchw_to_nhwc(noise_image(SMALL)), outputs,
                                layouts.nchw_to_nhwc(staged.numpy()), style_targets)
    assert expected["loss_content"] > 0 and expected["loss_style"] > 0
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, rtol=1e-5)


# --- the step ---


def test_step_is_torchs_adam_then_a_clip_to_unit_range():
    """First Adam step: x - lr * g / (|g| + eps), then clipped; a saturated image must clip."""
    start = np.clip(2.0 * noise_image(SMALL) - 0.5, 0.0, 1.0)  # a quarter at each bound
    adapter = adapter_with_image(StyleTransferAdapter, SMALL, start)
    staged = adapter.stage(SMALL.load_data())
    x = torch.from_numpy(start).requires_grad_(True)
    loss_terms(SMALL, x, vgg_taps(adapter.vgg, x), staged, adapter.style_targets)[
        "loss_total"].backward()
    g = x.grad.numpy()
    unclipped = start - SMALL.lr * g / (np.abs(g) + SMALL.eps)
    assert unclipped.max() > 1.0 and unclipped.min() < 0.0
    adapter.train_step(staged)
    np.testing.assert_allclose(adapter.get_weights()["image"], np.clip(unclipped, 0.0, 1.0),
                               atol=1e-6)


def test_flops_per_step_match_torchs_flop_counter():
    adapter = StyleTransferAdapter(SMALL)
    staged = adapter.stage(SMALL.load_data())
    with FlopCounterMode(display=False) as counter:
        adapter.train_step(staged)
    assert counter.get_total_flops() == SMALL.flops_per_step()


# --- weights ---

