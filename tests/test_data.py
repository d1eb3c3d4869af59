"""Tests for tfnn.data on the real MNIST (and Fashion-MNIST) files, offline."""

import gzip
import hashlib
import json
import logging
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfnn import cli, data
from tfnn.cli.commands import train as train_command
from tfnn.data import decoded, pipeline
from tfnn.data.arrays import ALIGN, aligned_empty, as_tensor, is_shareable
from tfnn.data.official import SPLITS
from tfnn.data.preprocessing import _integer_sums

REPO = pathlib.Path(__file__).resolve().parents[1]
FASHION_DIR = os.environ.get(
    "TFNN_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"
)


def read_idx(path):
    """Parses an idx .gz file with gzip + numpy (independently of tfds)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    assert magic in (2049, 2051), magic  # labels, images; ubyte data
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big")
            for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def rows(images, labels):
    """Sorted (image bytes + label) rows: the split as a multiset."""
    flat = np.concatenate(
        [images.reshape(len(images), -1).astype(np.uint8),
         labels.astype(np.uint8)[:, None]], axis=1)  # (N, 785)
    return np.sort(np.ascontiguousarray(flat).view(
        np.dtype((np.void, flat.shape[1]))).ravel())


def official(folder, prefix):
    return (read_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz")),
            read_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz")))


@pytest.fixture
def no_network(monkeypatch):
    """Blocks every socket connection; returns the list of attempts."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


# ---------------------------------------------------------------- loading


def test_import_is_quiet_and_lazy():
    code = ("import sys, tfnn.data; "
            "assert 'tensorflow' not in sys.modules; "
            "assert 'tensorflow_datasets' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""


def test_mnist_matches_official_files(mnist_raw, mnist_manual_dir):
    (x_train, y_train), (x_test, y_test) = mnist_raw
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.int64
    assert y_test.shape == (10000,) and y_test.dtype == np.int64

    idx_x_train, idx_y_train = official(mnist_manual_dir, "train")
    idx_x_test, idx_y_test = official(mnist_manual_dir, "t10k")
    np.testing.assert_array_equal(
        np.bincount(y_train, minlength=10), np.bincount(idx_y_train))
    np.testing.assert_array_equal(
        np.bincount(y_test, minlength=10), np.bincount(idx_y_test))
    # The official first train image (a 5): its pixel sum and the image itself.
    first = idx_x_train[0]
    assert idx_y_train[0] == 5
    sums = x_train.reshape(60000, -1).sum(axis=1, dtype=np.int64)
    matches = np.flatnonzero(sums == int(first.sum(dtype=np.int64)))
    assert any(np.array_equal(x_train[i], first) and y_train[i] == 5
               for i in matches)
    # tfds stores a fixed shuffle of the files: same (image, label) multiset.
    np.testing.assert_array_equal(
        rows(x_train, y_train), rows(idx_x_train, idx_y_train))
    np.testing.assert_array_equal(
        rows(x_test, y_test), rows(idx_x_test, idx_y_test))



def test_decoded_digests_are_the_official_splits_in_tfds_order(mnist_raw):
    """``DECODED_SHA256``: the SHA-256 of each split as tfds decodes it (the
    official files' examples, above), images' bytes then labels' as
    little-endian int64; ``decoded_problem`` names any other arrays."""
    for (x, y), split in zip(mnist_raw, SPLITS):
        digest = hashlib.sha256(x.tobytes() + y.astype("<i8").tobytes())
        assert digest.hexdigest() == decoded.DECODED_SHA256["mnist"][split]
        assert decoded.decoded_sha256(x, y) == digest.hexdigest()
        assert decoded.decoded_problem("mnist", split, x, y) is None
    x, y = mnist_raw[1]
    problem = decoded.decoded_problem
    other = np.roll(y, 1)
    assert problem("mnist", "test", x, other) == (
        "its test split decodes to SHA-256 "
        f"{decoded.decoded_sha256(x, other)}, not the official files' "
        f"{decoded.DECODED_SHA256['mnist']['test']}")
    assert problem("mnist", "test", x[:5000], y[:5000]).endswith(
        "uint8 images of shape (5000, 28, 28), not uint8 (10000, 28, 28)")
    assert "float32 images" in problem("mnist", "test",
                                       x.astype(np.float32), y)
    assert problem("mnist", "test", x, y[:, None]).endswith(
        "int64 labels of shape (10000, 1), not integers (10000,)")
    assert problem("fashion_mnist", "test", x, y).startswith(
        "its test split decodes to SHA-256 ")

def test_clear_cache_makes_load_arrays_read_again(mnist_raw):
    """``load_arrays`` hands every caller the same arrays until
    ``clear_cache``; then it reads the split again (equal arrays, new
    objects), as a new process would."""
    x, y = data.load_arrays("mnist", "test")
    assert data.load_arrays("mnist", "test")[0] is x
    data.clear_cache()
    x2, y2 = data.load_arrays("mnist", "test")
    assert x2 is not x and y2 is not y
    np.testing.assert_array_equal(x2, mnist_raw[1][0])
    np.testing.assert_array_equal(y2, mnist_raw[1][1])
    assert data.load_arrays("mnist", "test")[0] is x2

def test_no_network_no_manual_dir_says_what_to_do(
    no_network, tmp_path, monkeypatch
):
    monkeypatch.delenv(data.MANUAL_DIR_ENV, raising=False)
    with pytest.raises(data.MissingDataError) as info:
        data.load("mnist", data_dir=tmp_path / "empty")
    message = str(info.value)
    needles = ("--manual-dir", "TFNN_MANUAL_DIR", *data.OFFICIAL_FILES,
               "dataset-fashion-mnist", "/usr/share/datasets/fashion-mnist")
    for needle in needles:
        assert needle in message


def test_manual_dir_missing_files_are_named(tmp_path):
    for name in data.OFFICIAL_FILES[:2]:
        (tmp_path / name).touch()
    with pytest.raises(FileNotFoundError) as info:
        data.prepare("mnist", manual_dir=tmp_path, data_dir=tmp_path / "tfds")
    message = str(info.value)
    assert "lacks 2 of the four" in message
    assert f"{data.OFFICIAL_FILES[2]}, {data.OFFICIAL_FILES[3]}." in message
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.prepare("mnist", manual_dir=tmp_path / "nowhere",
                     data_dir=tmp_path / "tfds")


def test_wrong_dataset_files_are_rejected(tmp_path, mnist_manual_dir):
    with pytest.raises(ValueError, match="it is mnist's"):
        data.prepare("fashion_mnist", manual_dir=mnist_manual_dir,
                     data_dir=tmp_path)


def test_unknown_names_list_valid_keys():
    with pytest.raises(ValueError, match=r"\['fashion_mnist', 'mnist'\]"):
        data.load("cifar10")
    valid = r"\['minmax', 'raw', 'standardize'\]"
    with pytest.raises(ValueError, match=valid):
        data.load("mnist", preprocessing="zca")
    with pytest.raises(ValueError, match="standardize"):
        data.Preprocessor("whiten")
    with pytest.raises(ValueError, match="'test', 'train'|'train', 'test'"):
        data.load_arrays("mnist", "validation")


# ---------------------------------------------------------- preprocessing


def test_minmax_and_raw(mnist_raw):
    (x, _), _ = mnist_raw
    x = x[:2000]
    minmax = data.Preprocessor.fit("minmax", x)
    out = minmax(x)
    assert out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_allclose(out, x / 255.0, rtol=1e-6)
    raw = data.Preprocessor.fit("raw", x)(x)
    assert raw.dtype == np.float32
    np.testing.assert_array_equal(raw, x.astype(np.float32))


def pixel_stats(images):
    """Exact mean and std of uint8 ``images / 255`` from the histogram."""
    counts = np.bincount(images.ravel(), minlength=256)
    values = np.arange(256) / 255.0
    mean = counts @ values / images.size
    return mean, np.sqrt(counts @ (values - mean) ** 2 / images.size)


@pytest.mark.slow
def test_standardize_uses_training_part_only(mnist, mnist_raw):
    pre = mnist.preprocessor
    assert pre.kind == "standardize"
    assert abs(mnist.x_train.mean(dtype=np.float64)) < 1e-3
    assert abs(mnist.x_train.std(dtype=np.float64) - 1.0) < 1e-3
    # Undo x = (raw/255 - mean)/std: whole pixel values come back.
    raw = (mnist.x_train * np.float32(pre.std) + np.float32(pre.mean)) * 255
    assert np.abs(raw - np.rint(raw)).max() < 1e-2
    raw = np.rint(raw).astype(np.uint8)
    np.testing.assert_allclose(pixel_stats(raw), (pre.mean, pre.std),
                               rtol=1e-9)
    # ... and they are not the test set's (0.1325 vs 0.1307), nor those of
    # the whole training set (validation included).
    (x_all, _), (x_test, _) = mnist_raw
    test_mean, test_std = pixel_stats(x_test)
    assert abs(test_mean - pre.mean) > 1e-3 and abs(test_std - pre.std) > 1e-4
    all_mean, all_std = pixel_stats(x_all)
    assert abs(all_mean - pre.mean) > 1e-7 and abs(all_std - pre.std) > 1e-7
    assert abs(mnist.x_test.mean(dtype=np.float64)) > 1e-3



def test_background_is_a_black_pixel_preprocessed():
    pre = data.Preprocessor("standardize", mean=0.13, std=0.31)
    assert pre.background == pytest.approx(-0.13 / 0.31, rel=1e-6)
    assert np.float32(pre.background) == pre(np.zeros((1, 1), np.uint8))
    assert data.Preprocessor("minmax").background == 0.0
    assert data.Preprocessor("raw").background == 0.0

def test_integer_sums_are_exact_across_chunks():
    x = np.random.default_rng(0).integers(0, 256, (37, 29), dtype=np.uint8)
    exact = (sum(int(v) for v in x.ravel()),
             sum(int(v) * int(v) for v in x.ravel()))
    for chunk in (1, 7, 29, 1000, 1 << 20):  # boundaries inside and past
        assert _integer_sums(x, chunk) == exact
    # 255² · n overflows uint32 sums long before MNIST's 43 M pixels.
    assert _integer_sums(np.full(70_000, 255, np.uint8), 1024) == (
        255 * 70_000, 255 * 255 * 70_000)


def test_preprocessed_arrays_are_aligned_for_tensorflow(mnist_raw):
    (x, _), _ = mnist_raw
    for kind in data.PREPROCESSING:
        for part in (x[:1000], x[3:1001]):  # a view at any offset
            out = data.Preprocessor.fit(kind, part)(part)
            assert out.ctypes.data % ALIGN == 0 and is_shareable(out)
            assert out.flags.c_contiguous and out.shape == part.shape


def test_aligned_empty_and_as_tensor_share_or_copy():
    for shape, dtype in (((5, 28, 28), np.float32), ((3,), np.int64),
                         ((0, 4), np.float32)):
        a = aligned_empty(shape, dtype)
        assert a.shape == shape and a.dtype == dtype
        assert a.flags.c_contiguous
        assert a.size == 0 or a.ctypes.data % ALIGN == 0
    a = aligned_empty((64, 10), np.float32)
    a[:] = np.arange(640, dtype=np.float32).reshape(64, 10)
    shared = as_tensor(a, tf.float32)
    np.testing.assert_array_equal(shared.numpy(), a)
    a[0, 0] = 7.5  # the same memory: the tensor sees the write
    assert float(shared[0, 0]) == 7.5
    # Misaligned (a view 4 bytes in), strided, or another dtype: a copy,
    # with the same values, that later writes do not reach.
    labels = aligned_empty((7,), np.int64)
    labels[:] = np.arange(7)
    for other, dtype in ((a.reshape(-1)[1:], tf.float32),
                         (a[:, ::2], tf.float32), (a, tf.float64),
                         (labels[1:], tf.int64)):  # 8 bytes in
        assert not (is_shareable(other)
                    and other.dtype == dtype.as_numpy_dtype)
        t = as_tensor(other, dtype)
        assert t.dtype == dtype
        np.testing.assert_array_equal(t.numpy(), np.asarray(other))
        before = t.numpy().copy()
        other[...] = -1
        np.testing.assert_array_equal(t.numpy(), before)
    t = tf.constant([1.0, 2.0])
    assert as_tensor(t, tf.float32) is t
    # Read-only (load_arrays' arrays, a memmap opened "r"): NumPy will not
    # export it through DLPack, so it is copied, values intact.
    frozen = aligned_empty((8, 3), np.float32)
    frozen[:] = 2.5
    frozen.flags.writeable = False
    assert not is_shareable(frozen)
    np.testing.assert_array_equal(as_tensor(frozen, tf.float32).numpy(),
                                  frozen)

def test_apply_tf_equals_numpy(mnist_raw):
    (x, _), _ = mnist_raw
    x = x[:256]
    for kind in data.PREPROCESSING:
        pre = data.Preprocessor.fit(kind, x)
        out = pre.apply_tf(x).numpy()
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, pre(x), rtol=0, atol=1e-6)


def test_preprocessor_dict_round_trip(mnist):
    pre = mnist.preprocessor
    again = data.Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert again == pre
    with pytest.raises(ValueError, match="std"):
        data.Preprocessor("standardize", mean=0.1, std=0.0)


# --------------------------------------------------------------- splits


def test_splits_shapes(mnist):
    assert mnist.dataset == "mnist" and mnist.num_classes == 10
    assert mnist.x_train.shape == (55000, 28, 28)
    assert mnist.x_val.shape == (5000, 28, 28)
    assert mnist.x_test.shape == (10000, 28, 28)
    for x in (mnist.x_train, mnist.x_val, mnist.x_test):
        assert x.dtype == np.float32
    for y in (mnist.y_train, mnist.y_val, mnist.y_test):
        assert y.dtype == np.int64


@pytest.mark.slow
def test_validation_split_partitions_train_set(mnist_raw):
    (x_all, y_all), _ = mnist_raw
    a = data.load("mnist", preprocessing="raw", validation_size=5000, seed=0)
    assert len(a.x_train) + len(a.x_val) == 60000
    train, val = rows(a.x_train, a.y_train), rows(a.x_val, a.y_val)
    assert np.intersect1d(train, val).size == 0  # MNIST has no duplicates
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])),
                                  rows(x_all, y_all))
    b = data.load("mnist", preprocessing="raw", validation_size=5000, seed=0)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    c = data.load("mnist", preprocessing="raw", validation_size=5000, seed=1)
    assert not np.array_equal(a.y_val, c.y_val)


def test_no_validation_and_train_limit(mnist_raw):
    (x_all, y_all), _ = mnist_raw
    full = data.load("mnist", preprocessing="minmax", validation_size=0)
    assert full.x_train.shape == (60000, 28, 28)
    assert full.x_val.shape == (0, 28, 28) and full.y_val.shape == (0,)
    tiny = data.load("mnist", preprocessing="standardize", validation_size=0,
                     train_limit=20)
    assert tiny.x_train.shape == (20, 28, 28)
    np.testing.assert_array_equal(tiny.y_train, y_all[:20])
    assert tiny.preprocessor == data.Preprocessor.fit("standardize", x_all[:20])
    with pytest.raises(ValueError, match="validation_size"):
        data.load("mnist", validation_size=60000)
    with pytest.raises(ValueError, match="train_limit"):
        data.load("mnist", train_limit=0)


# -------------------------------------------------------------- tf.data


def epoch(ds):
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    return xs, ys


def test_batch_counts():
    x = np.arange(1000, dtype=np.float32)
    y = np.arange(1000)
    for drop, expected in ((False, 8), (True, 7)):
        xs, _ = epoch(data.make_dataset(x, y, 128, drop_remainder=drop))
        assert len(xs) == expected == data.num_batches(1000, 128, drop)
        assert [len(b) for b in xs[:-1]] == [128] * (expected - 1)
    assert len(xs[-1]) == 128  # dropped: 1000 = 7 * 128 + 104
    assert len(epoch(data.make_dataset(x, y, 128))[0][-1]) == 104
    for full in (None, 0):
        xs, _ = epoch(data.make_dataset(x, y, full))
        assert len(xs) == 1 == data.num_batches(1000, full, False)
        np.testing.assert_array_equal(np.sort(xs[0]), x)
    xs, _ = epoch(data.make_dataset(x[:50], y[:50], 1, shuffle=False))
    assert len(xs) == 50 == data.num_batches(50, 1, True)
    assert all(b.shape == (1,) for b in xs)
    np.testing.assert_array_equal(np.concatenate(xs), x[:50])
    with pytest.raises(ValueError, match="batch_size"):
        data.make_dataset(x, y, -1)


def test_shuffle_each_epoch_reproducible():
    x = np.arange(200, dtype=np.float32)
    y = np.arange(200)

    def orders(seed, epochs=3):
        ds = data.make_dataset(x, y, 32, seed=seed)
        out = []
        for _ in range(epochs):
            xs, ys = epoch(ds)
            xs, ys = np.concatenate(xs), np.concatenate(ys)
            np.testing.assert_array_equal(xs, ys)  # pairs stay together
            np.testing.assert_array_equal(np.sort(ys), y)  # a permutation
            out.append(ys)
        return out

    a, b, c = orders(7), orders(7), orders(8)
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])
    assert not np.array_equal(a[0], y)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(a[0], c[0])


# -------------------------------------------------------- fashion-mnist


@pytest.mark.skipif(
    not all(os.path.isfile(os.path.join(FASHION_DIR, f))
            for f in data.OFFICIAL_FILES),
    reason=f"Fashion-MNIST's files are not in {FASHION_DIR} "
    "(apt-get install dataset-fashion-mnist, or set TFNN_FASHION_MNIST_DIR)",
)
def test_fashion_mnist_loads_from_its_folder():
    x_train, y_train = data.load_arrays("fashion_mnist", "train",
                                        manual_dir=FASHION_DIR)
    x_test, y_test = data.load_arrays("fashion_mnist", "test",
                                      manual_dir=FASHION_DIR)
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    np.testing.assert_array_equal(rows(x_test, y_test),
                                  rows(*official(FASHION_DIR, "t10k")))


# ------------------------------------------------------------ damaged data


@pytest.fixture
def manual_copy(tmp_path, mnist_manual_dir):
    """A writable copy of the four official files."""
    folder = tmp_path / "manual"
    folder.mkdir()
    for name in data.OFFICIAL_FILES:
        (folder / name).write_bytes(
            (pathlib.Path(mnist_manual_dir) / name).read_bytes())
    return folder


def _truncate(path):
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])


def _flip(path, where=0.5):
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * where)] ^= 0x01
    path.write_bytes(bytes(raw))


def test_official_checksums_are_tfds_registered_ones(mnist_builder,
                                                     mnist_manual_dir):
    registered = {info.filename: info.checksum
                  for info in mnist_builder.url_infos.values()}
    for name in data.OFFICIAL_FILES:
        sums = data.check_official_file(
            "mnist", os.path.join(mnist_manual_dir, name))
        assert sums["sha256"] == registered[name]
        with gzip.open(os.path.join(mnist_manual_dir, name)) as fh:
            assert sums["idx_sha256"] == hashlib.sha256(fh.read()).hexdigest()


@pytest.mark.parametrize("damage,reason", [(_truncate, "truncated"),
                                           (_flip, "corrupted")])
def test_a_damaged_manual_file_is_named_in_one_line(damage, reason,
                                                    manual_copy, tmp_path,
                                                    capsys):
    bad = manual_copy / "train-images-idx3-ubyte.gz"
    damage(bad)
    with pytest.raises(data.CorruptDataError) as info:
        data.prepare("mnist", manual_dir=manual_copy,
                     data_dir=tmp_path / "tfds")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{bad} is damaged ({reason}")
    assert "download it again from https://" in message
    # From the command line: exit 2, one line (tfnn verify loads the test
    # split; here the train file is damaged, so damage the test file too).
    damage(manual_copy / "t10k-images-idx3-ubyte.gz")
    model = REPO / "saved_models" / "mnist" / "1"
    if not (model / "saved_model.pb").is_file():
        return

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["verify", str(model), "--manual-dir", str(manual_copy),
                  "--data-dir", str(tmp_path / "tfds2")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is damaged" in err[0], err
    assert err[0].startswith("tfnn verify: error: ")


def _records(raw):
    """``(start, end)`` of each record of a TFRecord file: a little-endian
    uint64 length, its masked CRC-32C, the data, the data's masked CRC."""
    spans, pos = [], 0
    while pos < len(raw):
        (length,) = struct.unpack_from("<Q", raw, pos)
        spans.append((pos, pos + 16 + length))
        pos += 16 + length
    return spans


def _flip_a_few(path):
    """Four bytes inverted in the middle of the file."""
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 4] = bytes(b ^ 0xFF for b in raw[middle:middle + 4])
    path.write_bytes(bytes(raw))


def _cut_between_records(path):
    """The shard ends after half its records: every record left is whole,
    so no CRC fails."""
    raw = path.read_bytes()
    path.write_bytes(raw[:_records(raw)[len(_records(raw)) // 2][0]])


def _repeat_a_record(path):
    """The second record replaced by a copy of the first: every CRC
    holds and the split keeps its 10,000 examples, one of them twice."""
    raw = path.read_bytes()
    (a, b), (c, d) = _records(raw)[:2]
    path.write_bytes(raw[:c] + raw[a:b] + raw[d:])


def _damaged_copy(mnist_builder, data_dir, split, damage):
    """A copy of the prepared dataset (decoded copies included) with
    ``split``'s shard damaged in place; returns the shard."""
    folder = data_dir / "mnist" / "3.0.1"
    shutil.copytree(mnist_builder.data_dir, folder)
    shard = next(folder.glob(f"mnist-{split}.tfrecord*"))
    damage(shard)
    return shard


@pytest.mark.slow
@pytest.mark.parametrize("damage,reason", [
    (_flip_a_few, "corrupted record at "),
    (_cut_between_records, "contained only 5000"),
    (_repeat_a_record, "its test split decodes to SHA-256 "),
])
def test_a_damaged_prepared_shard_is_named_without_a_manual_folder(
        damage, reason, mnist_builder, tmp_path):
    """Damaged in place, however it is damaged (a CRC that fails, records
    missing, a record that is another's with its CRC intact), the shard
    is named in one line with the folder to delete and how to rebuild;
    nothing is deleted, and no decoded copy is written from it."""
    shard = _damaged_copy(mnist_builder, tmp_path, "test", damage)
    folder = shard.parent
    data.clear_cache()
    with pytest.raises(data.CorruptDataError) as info:
        data.load_arrays("mnist", "test", manual_dir="", data_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"The prepared mnist dataset in {folder} is "
                              "damaged ("), message
    assert reason in message and shard.name in message
    assert f"delete {folder} and run again with --manual-dir" in message
    assert shard.is_file()  # nothing deleted without a manual folder
    assert data.read_decoded("mnist", "test", data_dir=tmp_path) is None


@pytest.mark.slow
def test_a_damaged_shard_is_rebuilt_offline_from_the_manual_folder(
        no_network, mnist_builder, mnist_manual_dir, mnist_raw, tmp_path):
    """A rebuild deletes the prepared folder and builds it afresh from the
    four official files (the same ``prepare`` as a first build), with
    every socket connection refused: no download is ever tried."""
    shard = _damaged_copy(mnist_builder, tmp_path, "test", _repeat_a_record)
    damaged = shard.read_bytes()
    data.clear_cache()
    x, y = data.load_arrays("mnist", "test", manual_dir=mnist_manual_dir,
                            data_dir=tmp_path)
    assert (tmp_path / "mnist" / "3.0.1" / "dataset_info.json").is_file()
    np.testing.assert_array_equal(x, mnist_raw[1][0])  # the same order
    np.testing.assert_array_equal(y, mnist_raw[1][1])
    assert shard.read_bytes() != damaged  # a new build, read back whole
    data.clear_cache()
    again = data.read_decoded("mnist", "test", data_dir=tmp_path)
    np.testing.assert_array_equal(again[1], mnist_raw[1][1])
    assert no_network == []


def _train_cli(data_dir, out):
    """``tfnn train`` on ``data_dir``'s prepared MNIST, no manual folder."""
    env = {k: v for k, v in os.environ.items() if k != "TFNN_MANUAL_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "tfnn.cli", "train", "--epochs", "1",
         "--train-limit", "500", "--validation-size", "500",
         "--no-progress", "--data-dir", str(data_dir), "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=REPO, env=env)


@pytest.mark.slow
def test_tfnn_train_on_a_damaged_train_shard_exits_2(
        mnist_builder, tmp_path):
    """The train shard damaged in place, a few bytes flipped in its middle:
    ``tfnn train`` without the official files exits 2 with one line naming
    the folder and trains nothing. (With them it rebuilds: the in-process
    test above; ``tfnn train`` hands ``--manual-dir`` to the same
    ``load_arrays``.)"""
    shard = _damaged_copy(mnist_builder, tmp_path, "train", _flip_a_few)
    folder = shard.parent
    proc = _train_cli(tmp_path, tmp_path / "run1")
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith("tfnn train: error: ")]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert f"The prepared mnist dataset in {folder} is damaged" in errors[0]
    assert "delete" in errors[0] and "--manual-dir" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run1" / "summary.json").exists()


# ------------------------------------------------------ the decoded cache


def _prepared_copy(mnist_builder, data_dir):
    """The prepared dataset's shards and info, copied (no decoded cache)."""
    folder = data_dir / "mnist" / "3.0.1"
    shutil.copytree(mnist_builder.data_dir, folder,
                    ignore=shutil.ignore_patterns("tfnn-decoded-*"))
    return folder


@pytest.mark.slow
def test_decoded_arrays_are_cached_beside_the_shards(mnist_builder,
                                                     mnist_raw, tmp_path):
    """The first load decodes tfds's PNGs and writes
    ``tfnn-decoded-test.npz``; the next process reads it instead (the
    shards are not read: here they are zeros of their size and time); a
    changed shard (another size or time) or an unreadable cache file is
    decoded afresh, so the arrays are always the shards'."""
    folder = _prepared_copy(mnist_builder, tmp_path)
    cache = folder / "tfnn-decoded-test.npz"

    def load():
        data.clear_cache()  # a new process
        return data.load_arrays("mnist", "test", data_dir=tmp_path)

    x, y = load()
    np.testing.assert_array_equal(x, mnist_raw[1][0])
    np.testing.assert_array_equal(y, mnist_raw[1][1])
    assert cache.is_file()
    with np.load(cache) as saved:
        stamp = str(saved["stamp"])
    # Read back from the cache: shards that no longer decode go unread.
    shard = next(folder.glob("mnist-test.tfrecord*"))
    whole, times = shard.read_bytes(), shard.stat()
    shard.write_bytes(bytes(len(whole)))
    os.utime(shard, ns=(times.st_atime_ns, times.st_mtime_ns))
    np.testing.assert_array_equal(load()[1], mnist_raw[1][1])
    shard.write_bytes(whole)
    os.utime(shard, ns=(times.st_atime_ns, times.st_mtime_ns))
    # A shard touched since: the stamp no longer matches, decoded again.
    shard = next(folder.glob("mnist-test.tfrecord*"))
    os.utime(shard, ns=(shard.stat().st_atime_ns,
                        shard.stat().st_mtime_ns + 10**9))
    np.testing.assert_array_equal(load()[1], mnist_raw[1][1])
    with np.load(cache) as saved:
        assert str(saved["stamp"]) != stamp  # rewritten for the new shard
    cache.write_bytes(b"not an npz")
    np.testing.assert_array_equal(load()[0], mnist_raw[1][0])
    assert cache.stat().st_size > 1000  # rewritten whole


def _flip_near_the_end(path):
    """One byte inverted among the last labels."""
    raw = bytearray(path.read_bytes())
    raw[-2000] ^= 0xFF
    path.write_bytes(bytes(raw))


def _rewrite(change):
    """A well-formed cache file, its stamp kept, its arrays changed."""
    def damage(path):
        with np.load(path) as saved:
            fields = dict(saved)
        fields["images"], fields["labels"] = change(fields["images"],
                                                    fields["labels"])
        np.savez(path, **fields)
    return damage


@pytest.mark.slow
@pytest.mark.parametrize("damage", [
    _flip_a_few,
    _flip_near_the_end,
    _rewrite(lambda x, y: (x, (y + 1) % 10)),
    _rewrite(lambda x, y: (x[:5000], y[:5000])),
], ids=["flipped", "flipped-labels", "other-labels", "half"])
def test_a_damaged_decoded_copy_is_decoded_again(damage, mnist_builder,
                                                 mnist_raw, tmp_path,
                                                 caplog):
    """A decoded copy damaged in place (bytes flipped; or a well-formed
    file with the shards' stamp but other arrays) is never handed out:
    ``read_decoded`` gives None and ``load_arrays`` says so in one line,
    decodes the shards again and rewrites it."""
    folder = _prepared_copy(mnist_builder, tmp_path)
    cache = folder / "tfnn-decoded-test.npz"
    data.clear_cache()
    data.load_arrays("mnist", "test", data_dir=tmp_path)
    damage(cache)
    damaged = cache.read_bytes()
    assert data.read_decoded("mnist", "test", data_dir=tmp_path) is None
    data.clear_cache()
    with caplog.at_level(logging.WARNING, logger="tfnn.data"):
        x, y = data.load_arrays("mnist", "test", data_dir=tmp_path)
    np.testing.assert_array_equal(x, mnist_raw[1][0])
    np.testing.assert_array_equal(y, mnist_raw[1][1])
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"{cache} is damaged"]
    assert cache.read_bytes() != damaged
    x, y = data.read_decoded("mnist", "test", data_dir=tmp_path)
    np.testing.assert_array_equal(y, mnist_raw[1][1])


@pytest.mark.slow
def test_read_decoded_needs_neither_tfds_nor_tensorflow(mnist_builder,
                                                        mnist_raw, tmp_path):
    """A fresh process reads both splits from the decoded copies beside the
    prepared dataset with NumPy alone: neither tfds nor TensorFlow is
    imported, and the arrays are the shards' (as ``load_arrays`` gives)."""
    folder = tmp_path / "mnist" / "3.0.1"
    shutil.copytree(mnist_builder.data_dir, folder)
    data.clear_cache()
    data.load_arrays("mnist", "test", data_dir=tmp_path)  # the cache is fresh
    out = tmp_path / "arrays.npz"
    code = (
        "import sys, numpy as np; from tfnn import data\n"
        f"x, y = data.read_decoded('mnist', 'test', "
        f"data_dir={str(tmp_path)!r})\n"
        "assert not x.flags.writeable and x.dtype == np.uint8, x.dtype\n"
        f"np.savez({str(out)!r}, x=x, y=y)\n"
        "print(sorted(m for m in ('tensorflow', 'tensorflow_datasets', 'keras')"
        " if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["x"], mnist_raw[1][0])
        np.testing.assert_array_equal(saved["y"], mnist_raw[1][1])
        assert saved["x"].shape == (10000, 28, 28)
        assert saved["y"].dtype == np.int64


def test_tfds_versions_are_the_builders():
    """read_decoded looks in the folder tfds prepares and reads."""
    for name in data.DATASETS:
        assert str(tfds.builder_cls(name).VERSION) == data.TFDS_VERSIONS[name]


@pytest.mark.slow
def test_read_decoded_gives_none_where_tfds_must_decide(mnist_builder,
                                                        tmp_path):
    """No prepared dataset, a stale cache (a shard touched since it was
    written) or only another version's folder: None, and ``load_arrays``
    asks tfds."""
    assert data.read_decoded("mnist", "test", data_dir=tmp_path) is None
    folder = tmp_path / "mnist" / data.TFDS_VERSIONS["mnist"]
    shutil.copytree(mnist_builder.data_dir, folder)
    data.clear_cache()
    data.load_arrays("mnist", "test", data_dir=tmp_path)
    x, _ = data.read_decoded("mnist", "test", data_dir=tmp_path)
    assert x.shape == (10000, 28, 28)
    other = tmp_path / "mnist" / "2.0.0"
    folder.rename(other)
    assert data.read_decoded("mnist", "test", data_dir=tmp_path) is None
    other.rename(folder)
    shard = next(folder.glob("mnist-test.tfrecord*"))
    os.utime(shard, ns=(shard.stat().st_atime_ns,
                        shard.stat().st_mtime_ns + 10**9))
    assert data.read_decoded("mnist", "test", data_dir=tmp_path) is None
    with pytest.raises(ValueError, match="Unknown split"):
        data.read_decoded("mnist", "validation", data_dir=tmp_path)


@pytest.fixture
def no_prefetch_left():
    """Each prefetch test leaves no Future (and its arrays) behind."""
    yield pipeline._PREFETCHED
    pipeline._PREFETCHED.clear()


@pytest.mark.slow
def test_prefetch_gives_load_the_same_splits(mnist_builder, tmp_path,
                                             no_prefetch_left):
    """``load`` after ``prefetch`` with the same arguments takes the
    thread's ``Splits`` (the very object), equal to a plain load's; other
    arguments (another seed, 5000.0 for 5000) are loaded as always, a
    failure on the thread is raised by ``load`` as a plain load raises
    it, and one prefetch is kept at a time."""
    folder = tmp_path / "mnist" / "3.0.1"
    shutil.copytree(mnist_builder.data_dir, folder)
    data.clear_cache()
    data.load_arrays("mnist", "train", data_dir=tmp_path)
    data.load_arrays("mnist", "test", data_dir=tmp_path)
    kw = {"data_dir": tmp_path, "seed": 3, "train_limit": 1000}
    future = data.prefetch(**kw)
    splits = data.load(**kw)
    assert splits is future.result()
    plain = data.load(**kw)  # nothing prefetched: read again
    assert plain is not splits
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(splits, name),
                                      getattr(plain, name))
    assert splits.preprocessor.to_dict() == plain.preprocessor.to_dict()
    assert len(splits.x_train) == 1000 and len(splits.x_val) == 5000
    # Another seed: not the prefetched one.
    other = data.prefetch(**kw)
    assert data.load(**{**kw, "seed": 4}) is not other.result()
    assert list(no_prefetch_left.values()) == [other]
    # Another type: a float validation size fails as a plain load fails.
    data.prefetch(data_dir=tmp_path, train_limit=1000)
    assert other not in no_prefetch_left.values()  # replaced
    with pytest.raises(ValueError, match="validation_size"):
        data.load(data_dir=tmp_path, train_limit=1000, validation_size=5000.0)
    # A bad argument fails on the thread; load raises it itself.
    bad = data.prefetch(data_dir=tmp_path, validation_size=60000)
    assert isinstance(bad.exception(timeout=60), ValueError)
    with pytest.raises(ValueError, match="validation_size"):
        data.load(data_dir=tmp_path, validation_size=60000)
    # No decoded copies: the thread gives None, load reads through tfds.
    empty = data.prefetch(data_dir=tmp_path / "nowhere")
    assert empty.result(timeout=60) is None


@pytest.mark.slow
def test_tfnn_train_prefetches_the_data_its_arguments_name(
        mnist_builder, tmp_path, monkeypatch, no_prefetch_left):
    """``tfnn train``'s hook before TensorFlow's import starts ``load`` of
    the data its flags name, over its config file's ``train`` section; the
    run's ``load`` with those arguments takes that very ``Splits``. An
    unparsable value or ``--help`` prefetches nothing."""
    monkeypatch.setattr(train_command, "prefer_kernels_for", lambda arch: None)
    shutil.copytree(mnist_builder.data_dir, tmp_path / "mnist" / "3.0.1")
    data.clear_cache()
    for split in ("train", "test"):  # the decoded copies, fresh
        data.load_arrays("mnist", split, data_dir=tmp_path)
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"train": {"seed": 5,
                                            "validation_size": 2000}}))
    before = set(pipeline._PREFETCHED)
    train_command.before_tensorflow(["--config", str(config), "--train-limit",
                                     "500", "--data-dir", str(tmp_path),
                                     "--epochs", "1"])
    (key,) = set(pipeline._PREFETCHED) - before
    future = pipeline._PREFETCHED[key]
    splits = data.load(validation_size=2000, seed=5, train_limit=500,
                       data_dir=str(tmp_path))
    assert splits is future.result()
    assert (len(splits.x_train), len(splits.x_val)) == (500, 2000)
    for argv in (["--seed", "five"], ["--help"]):
        train_command.before_tensorflow([*argv, "--data-dir", str(tmp_path)])
        assert set(pipeline._PREFETCHED) == before
    # An unknown dataset: nothing prefetched, nothing raised here (the run
    # says what is wrong).
    train_command.before_tensorflow(["--dataset", "cifar"])
    assert set(pipeline._PREFETCHED) == before
