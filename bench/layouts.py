"""Weight layout rules between the canonical (PyTorch) layout and Keras', in numpy.

Every rule comes as a pair (to Keras, from Keras) that are exact inverses: pure transposes
and permutations, so weights cross frameworks bit for bit. docs/models.md#parity-pitfalls
lists them; each has its own unit test.
"""

from __future__ import annotations

import numpy as np


def dense_to_keras(w: np.ndarray) -> np.ndarray:
    """Linear weight (out, in) -> Dense kernel (in, out)."""
    return np.ascontiguousarray(w.T)


def dense_from_keras(k: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(k.T)


def conv_to_keras(w: np.ndarray) -> np.ndarray:
    """Conv2d weight (out, in, kh, kw) -> Conv2D kernel (kh, kw, in, out)."""
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def conv_from_keras(k: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(k.transpose(3, 2, 0, 1))


def conv_transpose_to_keras(w: np.ndarray) -> np.ndarray:
    """ConvTranspose2d weight (in, out, kh, kw) -> Conv2DTranspose kernel (kh, kw, out, in).

    No spatial flip: both frameworks scatter the same kernel tap to the same output pixel.
    """
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0))


def conv_transpose_from_keras(k: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(k.transpose(3, 2, 0, 1))


def chw_to_hwc_index(channels: int, height: int, width: int) -> np.ndarray:
    """perm such that flat_hwc = flat_chw[perm] for a (C, H, W) tensor flattened both ways."""
    return np.arange(channels * height * width).reshape(channels, height, width).transpose(
        1, 2, 0).ravel()


def dense_after_flatten_to_keras(w: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    """Linear (out, C*H*W) reading a flattened CHW tensor -> Dense kernel reading flattened HWC."""
    return np.ascontiguousarray(w[:, chw_to_hwc_index(*chw)].T)


def dense_after_flatten_from_keras(k: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    out = np.empty_like(k.T)
    out[:, chw_to_hwc_index(*chw)] = k.T
    return out


def dense_before_reshape_to_keras(w: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    """Linear (C*H*W, in) whose output is reshaped to CHW -> Dense kernel whose output is HWC."""
    return np.ascontiguousarray(w[chw_to_hwc_index(*chw), :].T)


def dense_before_reshape_from_keras(k: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    out = np.empty_like(k.T)
    out[chw_to_hwc_index(*chw), :] = k.T
    return out


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def nhwc_to_nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
