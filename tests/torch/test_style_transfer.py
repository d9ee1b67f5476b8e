"""Style transfer in PyTorch: VGG19 taps, loss, Adam-and-clip step, FLOPs, weights.

Modes and the rest of the adapter contract: bench/testing/test_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
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

SMALL = StyleTransferConfig(size=32, width=4)


def noise_image(cfg: StyleTransferConfig, seed: int = 1) -> np.ndarray:
    """A random image in [0, 1], so the content term is not zero (the start is the content)."""
    return np.random.default_rng(seed).random((1, 3, cfg.size, cfg.size)).astype(np.float32)


def adapter_with_image(cfg: StyleTransferConfig, image: np.ndarray,
                       **kwargs) -> StyleTransferAdapter:
    adapter = StyleTransferAdapter(cfg, **kwargs)
    adapter.set_weights({**adapter.get_weights(), "image": image})
    return adapter


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


def test_stage_refuses_a_batch_that_is_not_the_content_image():
    adapter = StyleTransferAdapter(SMALL)
    with pytest.raises(UsageError, match="content image"):
        adapter.stage(np.zeros((2, 32, 32, 3), np.float32))


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
    adapter = adapter_with_image(SMALL, noise_image(SMALL))
    staged = adapter.stage(SMALL.load_data())
    outputs = adapter.forward(staged)
    style_targets = {name: value.numpy() for name, value in adapter.style_targets.items()}
    expected = loss_terms_numpy(SMALL, layouts.nchw_to_nhwc(noise_image(SMALL)), outputs,
                                layouts.nchw_to_nhwc(staged.numpy()), style_targets)
    assert expected["loss_content"] > 0 and expected["loss_style"] > 0
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, rtol=1e-5)


def test_the_first_content_loss_is_exactly_zero():
    adapter = StyleTransferAdapter(SMALL)
    adapter.train_step(adapter.stage(SMALL.load_data()))
    assert adapter.losses()["loss_content"] == 0.0


# --- the step ---


def test_step_is_torchs_adam_then_a_clip_to_unit_range():
    """First Adam step: x - lr * g / (|g| + eps), then clipped; a saturated image must clip."""
    start = np.clip(2.0 * noise_image(SMALL) - 0.5, 0.0, 1.0)  # a quarter at each bound
    adapter = adapter_with_image(SMALL, start)
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


def test_step_never_updates_vgg():
    adapter = adapter_with_image(SMALL, noise_image(SMALL))
    before = adapter.get_weights()
    adapter.train_step(adapter.stage(SMALL.load_data()))
    after = adapter.get_weights()
    assert not np.array_equal(before["image"], after["image"])
    for name in SMALL.vgg_shapes():
        np.testing.assert_array_equal(before[name], after[name])


def test_flops_per_step_match_torchs_flop_counter():
    adapter = StyleTransferAdapter(SMALL)
    staged = adapter.stage(SMALL.load_data())
    with FlopCounterMode(display=False) as counter:
        adapter.train_step(staged)
    assert counter.get_total_flops() == SMALL.flops_per_step()


# --- weights ---


def test_random_weights_are_the_specs_numpy_arrays_and_say_so():
    cfg = SMALL.replace(weight_seed=3)
    adapter = StyleTransferAdapter(cfg)
    weights, expected = adapter.get_weights(), cfg.initial_weights()
    assert sorted(weights) == sorted(expected)  # the image too: both frameworks start alike
    for name, value in expected.items():
        np.testing.assert_array_equal(weights[name], value)
    assert not np.array_equal(expected["features.0.weight"],
                              SMALL.vgg_state()["features.0.weight"])
    assert adapter.tags() == {"weights": "random-seed-3"}
    assert adapter.param_count() == 3 * 32 * 32


def test_set_weights_round_trips_and_refreshes_the_style_targets():
    source = adapter_with_image(SMALL, noise_image(SMALL))
    target = StyleTransferAdapter(SMALL.replace(weight_seed=1))
    target.set_weights(source.get_weights())
    for name, value in source.get_weights().items():
        np.testing.assert_array_equal(target.get_weights()[name], value)
    staged = source.stage(SMALL.load_data())
    assert source.forward(staged)["loss_style"] == target.forward(staged)["loss_style"]


def test_sample_is_the_current_image_in_the_boundary_format():
    adapter = adapter_with_image(SMALL, noise_image(SMALL))
    samples = adapter.sample(2, seed=5)
    expected = layouts.nchw_to_nhwc(noise_image(SMALL)) * 2.0 - 1.0
    assert samples.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(samples, np.repeat(expected, 2, axis=0), atol=1e-7)
