"""Style transfer across frameworks: parity checks 1-3 (MODELS.md), one process per framework.

This process imports neither framework; each framework runs in its own subprocess and the
weights and outputs pass through .npz files. The optimised image is set to noise first, so
that all three loss terms (and their gradients) are non-zero: the default start, the content
image, makes the content term exactly 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SIZE, WIDTH = 32, 16

# argv: framework, folder, phase, size, width. "first" (torch) writes the shared start weights;
# "follow" (tf) loads them; both then export what they hold and run one forward and one step.
SCRIPT = """
import sys
import numpy as np
from implementations.spec.style_transfer import StyleTransferConfig
framework, folder, phase = sys.argv[1:4]
size, width = map(int, sys.argv[4:])
if framework == "torch":
    from implementations.torch.style_transfer import StyleTransferAdapter
else:
    from implementations.tf.style_transfer import StyleTransferAdapter
StyleTransferAdapter.configure(1)
cfg = StyleTransferConfig(size=size, width=width)
adapter = StyleTransferAdapter(cfg, seed=0)
np.savez(f"{folder}/own_{framework}.npz", **adapter.get_weights())
if phase == "first":
    noise = np.random.default_rng(1).random((1, 3, size, size)).astype(np.float32)
    np.savez(f"{folder}/start.npz", **{**adapter.get_weights(), "image": noise})
adapter.set_weights(dict(np.load(f"{folder}/start.npz")))
np.savez(f"{folder}/roundtrip_{framework}.npz", **adapter.get_weights())
staged = adapter.stage(cfg.load_data(), {})
np.savez(f"{folder}/forward_{framework}.npz", **adapter.forward(staged))
adapter.train_step(staged)
np.savez(f"{folder}/step_{framework}.npz", image=adapter.get_weights()["image"],
         **adapter.losses())
"""


def run(framework: str, folder: Path, phase: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, framework, str(folder), phase, str(SIZE), str(WIDTH)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def load(folder: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(folder / f"{name}.npz") as archive:
        return {key: archive[key] for key in archive.files}


def worst_relative_error(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """max |a - b| / max |a| per array, worst over arrays (0 where both are exactly equal)."""
    assert sorted(a) == sorted(b)
    errors = [np.abs(a[k].astype(np.float64) - b[k]).max() / max(np.abs(a[k]).max(), 1e-30)
              for k in a]
    return float(max(errors))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("style_transfer_parity")
    run("torch", folder, "first")
    run("tf", folder, "follow")
    return folder


def test_random_weights_are_identical_without_any_transfer(outputs):
    torch_own, tf_own = load(outputs, "own_torch"), load(outputs, "own_tf")
    assert sorted(torch_own) == sorted(tf_own)
    for name, value in torch_own.items():
        np.testing.assert_array_equal(tf_own[name], value)


def test_round_trip_is_bit_exact(outputs):
    """torch -> numpy -> tf -> numpy -> torch: both frameworks give back the start's bits, so
    torch loading tf's copy is loading the start again."""
    start = load(outputs, "start")
    for copy in ("roundtrip_torch", "roundtrip_tf"):
        weights = load(outputs, copy)
        assert sorted(weights) == sorted(start)
        for name, value in start.items():
            np.testing.assert_array_equal(weights[name], value)


def test_forward_features_and_losses_agree(outputs):
    torch_out, tf_out = load(outputs, "forward_torch"), load(outputs, "forward_tf")
    assert min(float(torch_out[name]) for name in ("loss_content", "loss_style", "loss_tv")) > 0
    error = worst_relative_error(torch_out, tf_out)
    print(f"style_transfer forward: worst relative error {error:.2e}")
    assert error < 1e-5


def test_one_step_agrees(outputs):
    torch_step, tf_step = load(outputs, "step_torch"), load(outputs, "step_tf")
    start = load(outputs, "start")["image"]
    assert np.abs(torch_step["image"] - start).max() > 1e-3  # the step moved the image
    error = worst_relative_error(torch_step, tf_step)
    print(f"style_transfer one step: worst relative error {error:.2e}")
    assert error < 1e-4
