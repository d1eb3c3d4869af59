"""Arrays TensorFlow can take without a copy.

``tf.convert_to_tensor(array)`` copies a NumPy array into a fresh
TensorFlow buffer. For MNIST's training set in float32 (60,000 × 784 × 4
bytes = 188 MB) that copy is not free: fresh memory pages are slow to
touch on some machines, and the copy can cost as much as a short epoch
(measured in ``docs/performance.md``).
DLPack hands the same buffer over instead, when TensorFlow can use it as
it is: C-contiguous, of a TensorFlow dtype, and aligned to
:data:`ALIGN` bytes (Eigen's kernels assume that alignment;
TensorFlow aborts the process on a misaligned buffer rather than
raising). :func:`aligned_empty` allocates such arrays (the preprocessed
images are written into one) and :func:`as_tensor` shares an array with
TensorFlow when it qualifies and copies it otherwise.

The shared tensor *is* the array: writing to the array afterwards changes
the tensor. tfnn converts arrays it does not write to again (a run's
preprocessed splits).
"""

from __future__ import annotations

import numpy as np

ALIGN = 64  # bytes: TensorFlow's EIGEN_MAX_ALIGN_BYTES on x86-64 builds


def aligned_empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialized C-contiguous array whose data starts at a multiple
    of :data:`ALIGN` bytes (NumPy itself guarantees 16)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def is_shareable(array) -> bool:
    """Whether :func:`as_tensor` can hand ``array`` to TensorFlow without
    a copy: a C-contiguous, :data:`ALIGN`-aligned, writeable NumPy array of
    a numeric dtype (not object, string or bool). NumPy refuses to export
    a read-only array through DLPack (``BufferError``), so those copy."""
    return (isinstance(array, np.ndarray) and array.size > 0
            and array.flags.c_contiguous and array.flags.writeable
            and array.dtype.kind in "iuf"
            and array.ctypes.data % ALIGN == 0)


def as_tensor(array, dtype):
    """``array`` as a TensorFlow tensor of ``dtype``: the same memory
    through DLPack when :func:`is_shareable` and of that dtype already, a
    copy (``tf.convert_to_tensor``) otherwise; a tensor passes through."""
    import tensorflow as tf

    dtype = tf.as_dtype(dtype)
    if is_shareable(array) and array.dtype == dtype.as_numpy_dtype:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.convert_to_tensor(array, dtype)
