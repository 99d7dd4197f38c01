"""Data-parallel training of one model over several processes (torch.distributed).

Every process of a ``torch.distributed`` group runs the same script;
:class:`DistributedEmbedder` (every process passes the same data) and
:class:`ShardedEmbedder` (every process passes only its part) are
:class:`~rince_sklearn.RobustContrastiveEmbedder` s whose skorch net is a
:class:`DistributedContrastiveNet`. They train one model on global batches,
and the work of each process shrinks as processes are added:

1. **Batches.** The samples of all processes form one global data set
   (process ``r`` owns a contiguous block of it). Every process draws the same
   permutation of it and cuts the same global batches as a single process
   would; each process loads only the samples of each batch that it owns
   (:class:`ShardedBatchLoader`, whose :class:`BatchLayout` records where they
   sit in the batch).
2. **Views.** Each process augments only its own rows, with its own random
   stream. Augmentations that need the whole batch implement
   ``augment_shard`` and get what they need by a collective through a
   :class:`BatchShard`: SCARF's donors come from the all-gathered raw batch,
   :class:`~rince_sklearn.augment.GaussianNoise` scales by the global column
   spread, :class:`~rince_sklearn.augment.RandomChoice` makes one choice per
   global batch. ``noise_rate``'s pairing is drawn over the global batch from a
   stream shared by all processes.
3. **Embedding.** Each process embeds its rows through
   :class:`~torch.nn.parallel.DistributedDataParallel`; batch normalisation
   uses the global batch's statistics (:class:`GatheredBatchNorm1d` and
   friends: one all-reduce of per-channel sums, also on ``gloo``, unlike
   :class:`torch.nn.SyncBatchNorm`).
4. **Loss.** :func:`gather_with_grad` collects every process's projections
   (put back in batch order); each process computes the loss of its own
   anchors only against all of them (the criterion's ``anchor_losses``, of
   the :class:`~rince_sklearn.losses.PerAnchorLoss` protocol; for example
   :func:`~rince_sklearn.losses.rince_anchors`), divided by ``2B``.
   These shares add up to the global-batch loss, and loss work per process is
   about ``1 / world_size`` of it. A criterion without ``anchor_losses`` is
   computed whole on every process, which then takes ``1 / world_size`` of it.
5. **Gradients.** The gather's backward sums what all processes' shares send
   to each process's rows, and DDP, with a communication hook that sums
   instead of averaging, adds up the parameter gradients while the backward
   pass runs. Every process takes the same optimiser step with the gradient
   of the global-batch loss (``tests/test_distributed.py`` checks the loss and
   gradients of a step against one process to 1e-5 with 2 ``gloo``
   processes).

The net changes only documented hooks (skorch's ``initialize_module``,
``on_train_begin``, ``on_train_end``, ``get_iterator``, ``get_loss``,
``on_batch_end``, ``on_grad_computed``, and the parent's ``make_view`` and
``forward_view``); the parent's training step and backward pass run
unchanged.

Equivalence with one process. Without augmentation (or with a deterministic
one) a run equals single-process training on the global batch, noisy pairing
and batch normalisation included, up to float rounding. With random
augmentations the views come from per-process streams: they have the
single-process distribution but not its values, so the model differs from a
single-process run with the same seed (it is reproducible for a given number
of processes). Also different: image augmentations keep each view within the
range of the process's own rows, not the global batch's (the same whenever
the rows hold black and white pixels), and dropout masks come from each
process's stream. With :class:`ShardedEmbedder` and parts that are the
blocks of :func:`shard_sizes`, the model equals :class:`DistributedEmbedder`'s
on the whole data.

Why DistributedDataParallel, with a summing hook
--------------------------------------------------
Each process's loss is its share of the global loss, so the parameter
gradients must be summed over processes, not averaged as DDP does by default;
a communication hook that sums (``_sum_gradient_buckets``) does it
without rescaling the loss. DDP is used rather than one all-reduce after the
backward pass (:func:`sum_gradients`, still available as
``gradient_sync = "manual"``) because it overlaps the all-reduce of gradient
buckets with the rest of the backward pass. Measured on the 2-core CPU
development machine (``benchmarks/results/parallel_training.md``, MLP
(1024, 1024), global batch 2048, 2 processes, gloo, medians of 3
interleaved runs on a quiet machine): DDP reached 1.67x the wall-clock
throughput of one process and 1.84x its samples per CPU second, the manual
all-reduce 1.61x and 1.79x. (Under heavy load from other work the two were
too noisy to rank.) The
two views are two forward passes through the DDP module before one backward
pass, which DDP accepts as the graph is the same each step and every
parameter is used. skorch's ``AccelerateMixin`` (DDP plus accelerate's data
loader) is not used: its loader shards the data by samples without the
global batch layout that the gathered loss, the batch-wide augmentations and
the noisy pairing need, and it would add ``accelerate`` as a dependency.

Usage: launch one process per device, for example with ``torchrun``::

    torchrun --nproc-per-node 2 train.py

where ``train.py`` initialises the group and fits as usual (see the scaling
guide for several machines and per-process data)::

    import torch.distributed as dist
    from rince_sklearn.distributed import DistributedEmbedder

    dist.init_process_group("gloo")        # "nccl" with one GPU per process
    emb = DistributedEmbedder(batch_size=512, random_state=0).fit(X)
    if dist.get_rank() == 0:
        emb.save("embedder.pt")            # loads as RobustContrastiveEmbedder
    dist.destroy_process_group()

:func:`run_local` starts such a group on this machine (loopback only), for
tests and benchmarks. Without an initialised group (or with one process),
everything here behaves exactly like the single-process classes.

The code is split by concept: ``_comm`` (the process group, sums and gathers
with gradients), ``_batchnorm`` (the gathered batch norms), ``_sharding``
(:func:`shard_sizes` and a process's part of each batch), ``_net``
(:class:`DistributedContrastiveNet`), ``_estimator`` (the estimators) and
``_launcher`` (:func:`run_local`). Import from this package: the classes'
public names (``__module__``) are
``rince_sklearn.distributed.DistributedEmbedder`` and so on, the names that
pickles and saved models hold.
"""

from __future__ import annotations

from ._batchnorm import (
    GatheredBatchNorm1d,
    GatheredBatchNorm2d,
    GatheredBatchNorm3d,
    convert_batchnorm,
)
from ._comm import gather_with_grad, rank, sum_gradients, world_size
from ._estimator import DistributedEmbedder, ShardedEmbedder
from ._launcher import run_local
from ._net import DistributedContrastiveNet
from ._sharding import BatchLayout, BatchShard, ShardedBatchLoader, shard_sizes

__all__ = [
    "BatchLayout",
    "BatchShard",
    "DistributedContrastiveNet",
    "DistributedEmbedder",
    "GatheredBatchNorm1d",
    "GatheredBatchNorm2d",
    "GatheredBatchNorm3d",
    "convert_batchnorm",
    "gather_with_grad",
    "rank",
    "run_local",
    "shard_sizes",
    "ShardedBatchLoader",
    "ShardedEmbedder",
    "sum_gradients",
    "world_size",
]

# the classes keep the public names they had when this package was one module,
# the names that pickles (of a fitted DistributedEmbedder, its net and its batch
# norm layers) and saved models ("module:qualname") hold
for _cls in (
    BatchLayout,
    BatchShard,
    DistributedContrastiveNet,
    DistributedEmbedder,
    GatheredBatchNorm1d,
    GatheredBatchNorm2d,
    GatheredBatchNorm3d,
    ShardedBatchLoader,
    ShardedEmbedder,
):
    _cls.__module__ = __name__
del _cls
