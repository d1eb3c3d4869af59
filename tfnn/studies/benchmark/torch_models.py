"""The benchmark's models in PyTorch, trained the way the torch path trains
them: eager mode, He-normal init, ``Adam(fused=True)``.

PyTorch is an optional extra (``pip install torch==2.13.0``): it is
imported only when a torch path is built (:func:`import_torch`), and every
caller skips the torch path with a message when it is not installed.
"""

from __future__ import annotations

import logging

import numpy as np

from tfnn.batched_inference import batch_slices
from tfnn.studies.benchmark.workload import TrainingPath, tfnn_config
from tfnn.studies.torch_twin import torch_model as twin

logger = logging.getLogger(__name__)


def import_torch():
    """The ``torch`` module, or None (with a warning) when not installed."""
    try:
        import torch  # optional: the torch path only
    except ImportError:
        logger.warning("PyTorch is not installed: skipping the torch path "
                       "(pip install torch==2.13.0)")
        return None
    return torch


def torch_model(arch, seed, threads):
    """``(model, optimizer, loss)``: the benchmark's MLP (also with BN and
    dropout, ``"mlp_bn_dropout"``) or CNN in PyTorch, built from the same
    :func:`~tfnn.studies.benchmark.workload.tfnn_config` as tfnn's
    (:func:`tfnn.studies.torch_twin.torch_model`: He normal, zero bias),
    fused Adam 1e-3 and cross-entropy on logits."""
    import torch  # optional extra: imported only when it is used
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    model = twin(tfnn_config(arch, seed).to_dict())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    return model, opt, nn.CrossEntropyLoss()


def torch_step(model, opt, loss_fn, xb, yb):
    """One PyTorch train step, as the torch path runs it."""
    loss = loss_fn(model(xb), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def torch_path(arch, splits, batch, seed, threads):
    """The torch
    :class:`~tfnn.studies.benchmark.workload.TrainingPath` on ``splits``
    (a fresh permutation every epoch); None when torch is not installed."""
    torch = import_torch()
    if torch is None:
        return None
    model, opt, loss_fn = torch_model(arch, seed, threads)
    X = torch.from_numpy(np.ascontiguousarray(splits.x_train))
    Y = torch.from_numpy(splits.y_train.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)

    def epoch(e):
        model.train()
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), batch):
            idx = perm[i:i + batch]
            torch_step(model, opt, loss_fn, X[idx], Y[idx])

    def accuracy():
        model.eval()
        xt = torch.from_numpy(np.ascontiguousarray(splits.x_test))
        with torch.no_grad():
            pred = torch.cat([model(xt[s]).argmax(1)
                              for s in batch_slices(len(xt))])
        return float((pred.numpy() == splits.y_test).mean())

    return TrainingPath("torch", epoch, accuracy)
