"""A drawing (or a photo) of a digit made into an MNIST digit, the way the
MNIST digits were made.

LeCun, Cortes and Burges describe MNIST's digits: "The original black and
white (bilevel) images from NIST were size normalized to fit in a 20x20
pixel box while preserving their aspect ratio. The resulting images contain
grey levels as a result of the anti-aliasing technique used by the
normalization algorithm. The images were centered in a 28x28 image by
computing the center of mass of the pixels, and translating the image so
as to position this point at the center of the 28x28 field." Here, step by
step (``ink``: white on black, 0..255; index coordinates, pixel ``i``'s
center at ``i``)::

    box:     rows r0..r1, columns c0..c1 holding ink >= threshold (128)
    size:    m = max(h, w);  nh = floor(20*h/m + 1/2), nw likewise (>= 1)
    resize:  out = Ry @ crop @ Rx^T, area averaging,
             R[i, k] = |[i*s, (i+1)*s] ∩ [k, k+1]| / s,  s = n_in / n_out
    center:  (cy, cx) = sum(v * (i, j)) / sum(v) of the 20-box image
             offset = floor(14 - cy + 1/2 + 1e-7)  (same for x)
    round:   floor(v + 1/2), clipped to 0..255; ink pushed off the field
             is lost, as in MNIST (some of its digits touch the border)

The center is 14 in index coordinates: MNIST's test digits have their
center of mass at (13.99, 14.01) on average, each within half a pixel of
(14, 14) (an integer shift). The ``1e-7`` breaks ties the same way
whatever the summation order, so ``tfnn/serving/static/drawing.js`` (the
same steps, for the page of ``tfnn serve``) gives the same offsets; the
two agree within one grey level (``tests/test_drawing.py``).

An empty drawing (no pixel reaches the threshold) raises ``ValueError``:
there is nothing to center, and a blank 28×28 image would still be given
a class by the model.

NumPy only.

Reference: Y. LeCun, C. Cortes, C. J. C. Burges, "The MNIST database of
handwritten digits", http://yann.lecun.com/exdb/mnist/.
"""

from __future__ import annotations

import math

import numpy as np

FIELD = 28  # the 28×28 field
BOX = 20  # the digit's box inside it
CENTER = 14.0  # where the center of mass goes, index coordinates
INK_THRESHOLD = 128  # a pixel belongs to the box from this grey level on
TIE_BREAK = 1e-7  # so that x.5 rounds up whatever the float noise


def bounding_box(ink, threshold: float = INK_THRESHOLD):
    """The rows and columns holding ink: ``(r0, r1, c0, c1)``, half-open.

    Args:
        ink: ``(H, W)`` grey levels, ink bright (white on black).
        threshold: least grey level that counts as ink. Defaults to 128
            (half-covered pixels: the stroke's edge).

    Raises:
        ValueError: no pixel reaches ``threshold`` (an empty drawing).
    """
    ink = np.asarray(ink, dtype=np.float64)
    if ink.ndim != 2 or 0 in ink.shape:
        raise ValueError(f"expected a 2-D image. Received: shape={ink.shape}")
    mask = ink >= threshold
    if not mask.any():
        raise ValueError(
            f"empty drawing: no pixel reaches the ink threshold {threshold} "
            f"(brightest: {ink.max():g}); draw a digit, white on black"
        )
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def box_size(height: int, width: int, box: int = BOX) -> tuple[int, int]:
    """The longer side scaled to ``box``, the aspect ratio kept.

    ``m = max(h, w)``; ``(floor(box*h/m + 1/2), floor(box*w/m + 1/2))``,
    each at least 1.
    """
    m = max(height, width)
    return (max(1, math.floor(box * height / m + 0.5)),
            max(1, math.floor(box * width / m + 0.5)))


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """The ``(n_out, n_in)`` matrix of area averaging along one axis.

    Output pixel ``i`` covers ``[i*s, (i+1)*s]`` of the input
    (``s = n_in / n_out``); its weight on input pixel ``k`` is the overlap
    with ``[k, k+1]`` over ``s``, so every row sums to 1.
    """
    s = n_in / n_out
    lo = np.arange(n_out)[:, None] * s  # (n_out, 1)
    k = np.arange(n_in)[None, :]  # (1, n_in)
    overlap = np.minimum(lo + s, k + 1) - np.maximum(lo, k)
    return np.maximum(overlap, 0.0) / s  # (n_out, n_in)


def area_resize(image, shape: tuple[int, int]) -> np.ndarray:
    """``image`` resampled to ``shape`` by area averaging (anti-aliased).

    ``Ry @ image @ Rx^T`` with ``Ry = area_weights(H, h)``,
    ``Rx = area_weights(W, w)``: each output pixel is the mean of the input
    over the area it covers.
    """
    image = np.asarray(image, dtype=np.float64)
    ry = area_weights(image.shape[0], shape[0])  # (h, H)
    rx = area_weights(image.shape[1], shape[1])  # (w, W)
    return ry @ image @ rx.T  # (h, w)


def center_of_mass(image) -> tuple[float, float]:
    """``sum(v * (i, j)) / sum(v)`` in index coordinates."""
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    rows = image.sum(axis=1) @ np.arange(image.shape[0])
    cols = image.sum(axis=0) @ np.arange(image.shape[1])
    return float(rows / total), float(cols / total)


def center_offset(com: float, center: float = CENTER) -> int:
    """The whole-pixel shift putting ``com`` within half a pixel of
    ``center``: ``floor(center - com + 1/2 + 1e-7)``."""
    return math.floor(center - com + 0.5 + TIE_BREAK)


def fit_and_center(ink, threshold: float = INK_THRESHOLD) -> np.ndarray:
    """MNIST's normalization before rounding: float64 ``(28, 28)``.

    The ink's bounding box, area-averaged to fit ``20×20`` with its aspect
    ratio kept, placed so that its center of mass falls within half a pixel
    of (14, 14) (module docstring).

    Raises:
        ValueError: an empty drawing.
    """
    r0, r1, c0, c1 = bounding_box(ink, threshold)
    crop = np.asarray(ink, dtype=np.float64)[r0:r1, c0:c1]
    digit = area_resize(crop, box_size(*crop.shape))  # (nh, nw), nh, nw <= 20
    cy, cx = center_of_mass(digit)
    oy, ox = center_offset(cy), center_offset(cx)
    field = np.zeros((FIELD, FIELD))
    # Rows of the digit landing inside the field: i + oy in [0, 28).
    i0, i1 = max(0, -oy), min(digit.shape[0], FIELD - oy)
    j0, j1 = max(0, -ox), min(digit.shape[1], FIELD - ox)
    if i0 < i1 and j0 < j1:
        field[i0 + oy:i1 + oy, j0 + ox:j1 + ox] = digit[i0:i1, j0:j1]
    return field


def mnist_style(ink, threshold: float = INK_THRESHOLD) -> np.ndarray:
    """A drawing as an MNIST digit: uint8 ``(28, 28)``, white on black.

    ``floor(v + 1/2)`` of :func:`fit_and_center`, clipped to 0..255.

    Args:
        ink: ``(H, W)`` grey levels 0..255, ink bright (see :func:`to_ink`
            for dark-on-light pictures).
        threshold: least grey level of the box's ink. Defaults to 128.

    Returns:
        The 28×28 digit, as the served model expects it.

    Raises:
        ValueError: an empty drawing or an image that is not 2-D.
    """
    field = fit_and_center(ink, threshold)
    return np.clip(np.floor(field + 0.5), 0, 255).astype(np.uint8)


def to_ink(grey) -> np.ndarray:
    """A grey picture as ink, white on black, its contrast stretched.

    The background is the median of the border pixels; a light one (> 127,
    a dark digit on paper) is inverted. Then ``(x - b) * 255 / (max - b)``,
    clipped to 0..255, with ``b`` the background: a clean white-on-black
    drawing passes through unchanged.

    Args:
        grey: ``(H, W)`` grey levels 0..255.

    Returns:
        float64 ``(H, W)`` ink; all zeros for a blank picture.
    """
    grey = np.asarray(grey, dtype=np.float64)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    if background > 127:
        grey, background = 255.0 - grey, 255.0 - background
    top = grey.max()
    if top <= background:
        return np.zeros_like(grey)
    return np.clip((grey - background) * 255.0 / (top - background), 0, 255)
