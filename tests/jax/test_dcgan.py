"""DCGAN in JAX: parameter count from NNX's own parameters; every convolution of the table, in
PyTorch's weight layout, computes PyTorch's definition (numpy below), explicit padding included.

What every DCGAN adapter must do alike is in tests/dcgan_shared.py, imported at the end.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from implementations.jax.dcgan import DCGANAdapter, conv, conv_rules
from implementations.spec.dcgan import KERNEL, ConvLayer, DCGANConfig

CONFIG = DCGANConfig(width=8, batch_size=8)


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> None:
    DCGANAdapter.configure(1)


def test_param_count_is_the_frameworks_own() -> None:
    adapter = DCGANAdapter(CONFIG)
    params = sum(leaf.size for net in ("G", "D")
                 for leaf in jax.tree.leaves(nnx.state(adapter.network(adapter.state, net),
                                                       nnx.Param)))
    assert adapter.param_count() == params


def torch_conv(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """PyTorch's Conv2d, NHWC in and out, w (out, in, k, k): a cross-correlation of the
    zero-padded input."""
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    size = (x.shape[1] - KERNEL) // stride + 1
    out = np.zeros((len(x), size, size, w.shape[0]))
    for i in range(size):
        for j in range(size):
            patch = x[:, i * stride:i * stride + KERNEL, j * stride:j * stride + KERNEL, :]
            out[:, i, j, :] = np.einsum("bhwc,ochw->bo", patch, w)
    return out


def torch_conv_transpose(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """PyTorch's ConvTranspose2d, NHWC in and out, w (in, out, k, k): input pixel (i, j)
    scatters w[:, :, a, b] to output pixel (i * stride - padding + a, j * stride - padding + b)."""
    size_in = x.shape[1]
    full = (size_in - 1) * stride + KERNEL
    out = np.zeros((len(x), full, full, w.shape[1]))
    for i in range(size_in):
        for j in range(size_in):
            out[:, i * stride:i * stride + KERNEL, j * stride:j * stride + KERNEL, :] += (
                np.einsum("bc,cohw->bhwo", x[:, i, j, :], w))
    return out[:, padding:full - padding, padding:full - padding, :]


@pytest.mark.parametrize("layer", CONFIG.g_layers() + CONFIG.d_layers(),
                         ids=lambda row: f"{'transposed-' if row.transposed else ''}"
                                         f"s{row.stride}p{row.padding}-{row.size_in}")
def test_each_convolution_is_pytorchs(layer: ConvLayer) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, layer.size_in, layer.size_in, layer.c_in)).astype(np.float32)
    w = rng.standard_normal(layer.conv_shape()).astype(np.float32)
    module = conv(layer, nnx.Rngs(0))
    [(_, to_jax, from_jax)] = conv_rules("G", layer).values()
    module.kernel.value = to_jax(w)
    np.testing.assert_array_equal(from_jax(np.asarray(module.kernel.value)), w)
    reference = (torch_conv_transpose if layer.transposed else torch_conv)(
        x.astype(np.float64), w.astype(np.float64), layer.stride, layer.padding)
    out = np.asarray(module(x))
    assert out.shape == (2, layer.size_out, layer.size_out, layer.c_out)
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)



from dcgan_shared import *  # noqa: E402, F403  (what every DCGAN adapter does alike)

FRAMEWORK = "jax"
