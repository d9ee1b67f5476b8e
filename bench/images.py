"""Image files in numpy, framework-neutral: style transfer's content and style images.

Images here are HWC float32 RGB in [0, 1] (the file convention), not the harness' [-1, 1]
boundary format. Every image is centre-cropped to a square and then resized once, in numpy,
so both frameworks see the same pixels (image resizing differs between libraries:
docs/models.md#parity-pitfalls).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np

from bench.data import resize_images
from bench.errors import UsageError

#: scikit-learn's shipped photographs: the defaults when no path is given (no download).
DEFAULT_CONTENT = "china.jpg"
DEFAULT_STYLE = "flower.jpg"
MIN_SIDE = 32
GRAYSCALE_MODES = ("1", "L", "LA", "I", "I;16", "F")


def load_image(path: str | os.PathLike, size: int) -> np.ndarray:
    """An image file as size x size x 3 float32 in [0, 1]: centre-cropped square, then resized.

    A grayscale image is copied to three channels with a warning; an alpha channel is dropped.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        problem = "is not a file" if path.exists() else "no such file"
        raise UsageError(f"{path}: {problem}; give the path of an image file (PNG, JPEG, ...)")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in GRAYSCALE_MODES:
                warnings.warn(f"{path}: grayscale image, copied to 3 channels", stacklevel=2)
            pixels = np.asarray(image.convert("RGB"))
    except UnidentifiedImageError:
        raise UsageError(f"{path}: not an image PIL can read; give a PNG or JPEG file") from None
    except OSError as error:
        raise UsageError(
            f"{path}: cannot decode the image ({error}); save it again as PNG or JPEG"
        ) from None
    return square_resize(pixels, size, str(path))


def load_sample_image(name: str, size: int) -> np.ndarray:
    """One of scikit-learn's shipped photographs ('china.jpg', 'flower.jpg'), like load_image.

    Read straight from scikit-learn's package folder: the same file load_sample_image reads,
    without importing scikit-learn (seconds per worker process).
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"the default image {name} ships with scikit-learn: "
                         "pip install scikit-learn, or give an image path")
    return load_image(Path(spec.submodule_search_locations[0]) / "datasets" / "images" / name,
                      size)


def load_image_or_sample(path: str | os.PathLike | None, default: str, size: int) -> np.ndarray:
    return load_sample_image(default, size) if path is None else load_image(path, size)


def square_resize(pixels: np.ndarray, size: int, name: str) -> np.ndarray:
    """uint8 HWC pixels -> centre-cropped to a square, resized to size x size, scaled to [0, 1]."""
    h, w = pixels.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise UsageError(
            f"{name}: image is {w}x{h} pixels, smaller than {MIN_SIDE}; "
            f"give an image at least {MIN_SIDE} pixels on each side"
        )
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = pixels[top : top + side, left : left + side].astype(np.float32) / 255.0
    return resize_images(square[None], size)[0]
