"""bench.images: loading style-transfer images from files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench import images
from bench.errors import UsageError


def write_image(path, pixels: np.ndarray, mode: str | None = None):
    Image.fromarray(pixels, mode).save(path)
    return path


def test_missing_file_says_so(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        images.load_image(tmp_path / "absent.png", 64)


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(UsageError, match="is not a file"):
        images.load_image(tmp_path, 64)


def test_text_file_is_not_an_image(tmp_path):
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(UsageError, match="not an image"):
        images.load_image(tmp_path / "notes.png", 64)


def test_truncated_image_cannot_be_decoded(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    full = write_image(tmp_path / "full.png", pixels).read_bytes()
    (tmp_path / "cut.png").write_bytes(full[: len(full) // 2])
    with pytest.raises(UsageError, match="cannot decode"):
        images.load_image(tmp_path / "cut.png", 64)


def test_image_smaller_than_32_pixels_is_refused(tmp_path):
    path = write_image(tmp_path / "small.png", np.zeros((31, 100, 3), np.uint8))
    with pytest.raises(UsageError, match="100x31 pixels, smaller than 32"):
        images.load_image(path, 32)


def test_grayscale_is_copied_to_three_channels_with_a_warning(tmp_path):
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))
    path = write_image(tmp_path / "gray.png", gray)
    with pytest.warns(UserWarning, match="grayscale"):
        image = images.load_image(path, 64)
    assert image.shape == (64, 64, 3)
    np.testing.assert_array_equal(image[..., 0], gray / np.float32(255.0))
    np.testing.assert_array_equal(image[..., 0], image[..., 2])


def test_wide_image_is_centre_cropped_then_resized(tmp_path):
    """A red | green | blue image 40 x 120: only the green middle square survives."""
    pixels = np.zeros((40, 120, 3), np.uint8)
    pixels[:, :40, 0] = pixels[:, 40:80, 1] = pixels[:, 80:, 2] = 255
    image = images.load_image(write_image(tmp_path / "rgb.png", pixels), 32)
    assert image.shape == (32, 32, 3) and image.dtype == np.float32
    np.testing.assert_array_equal(image, np.broadcast_to([0.0, 1.0, 0.0], (32, 32, 3)))


def test_default_images_are_scikit_learns_photographs():
    from sklearn.datasets import load_sample_image

    content = images.load_sample_image(images.DEFAULT_CONTENT, 64)
    expected = images.square_resize(load_sample_image("china.jpg"), 64, "china.jpg")
    np.testing.assert_array_equal(content, expected)
    style = images.load_image_or_sample(None, images.DEFAULT_STYLE, 48)
    assert style.shape == (48, 48, 3) and 0.0 <= style.min() < style.max() <= 1.0
    assert not np.array_equal(images.load_sample_image(images.DEFAULT_STYLE, 64), content)
