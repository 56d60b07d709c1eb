"""Image uploads are measured from their header before any pixel is decoded."""
from __future__ import annotations

import warnings
from typing import BinaryIO


class TooManyPixels(ValueError):
    """An image larger than the configured number of pixels."""

    def __init__(self, max_pixels: int):
        super().__init__(f"The image has too many pixels; use one under {max_pixels // 1_000_000} megapixels.")


def check_pixels(source: str | BinaryIO, max_pixels: int) -> None:
    """Refuse an image whose declared size exceeds `max_pixels` (reads only the header; Pillow decodes lazily).

    Unreadable images pass through here: the caller's decoder reports them with its own message.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise TooManyPixels(max_pixels) from None
    except (OSError, SyntaxError, ValueError):
        return
    if width * height > max_pixels:
        raise TooManyPixels(max_pixels)
