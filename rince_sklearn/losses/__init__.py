"""Contrastive losses: RINCE and InfoNCE (NT-Xent), computed in log space.

Both losses take the projections of two views, ``z1`` and ``z2`` of shape
``(N, d)``, where row ``i`` of each is a view of sample ``i``. There are ``2N``
anchors (every row of ``z1`` and of ``z2``); an anchor's positive is the other
view of the same sample and its negatives are the other ``2N - 2`` rows.

With ``s(a, b) = cos(a, b) / temperature``, ``s+`` an anchor's positive score and
``S = exp(s+) + sum_k exp(s-_k)``:

* InfoNCE: ``-s+ + log(S)`` (SimCLR's NT-Xent loss);
* RINCE:   ``-exp(q * s+) / q + (lam * S) ** q / q``.

Both are averaged over the ``2N`` anchors. ``(lam * S) ** q`` is evaluated as
``exp(q * (log(lam) + logsumexp(...)))`` and the similarities are computed in at
least float32 (also under autocast), so that small temperatures and bfloat16 or
float16 inputs neither overflow nor give NaN.

This is the SimCLR-style form of the official RINCE code: ``2N`` anchors,
``2N - 2`` negatives each, ``lam`` times the partition that includes the
positive, the mean over anchors. The official code's MoCo-v3 form differs: an
anchor's negatives come from the other view only, the loss is scaled by
``2 * temperature``, and the two directions ``(z1, z2)`` and ``(z2, z1)`` are
summed. This package uses the SimCLR form because it is the form written in the
paper's equations, it uses every other view in the batch as a negative (twice
as many as the MoCo form for one batch, which matters for the small batches of
tabular data), and it is a plain function of one batch with no momentum
encoder, so ``q -> 0`` is exactly NT-Xent plus ``log(lam)``.

With ``labels`` (supervised contrastive learning [3]_), an anchor's positives
are its other view and every other view in the batch with the same label; the
loss of an anchor is its per-positive loss averaged over its positives (see
:func:`rince` and :func:`info_nce`). Losses are looked up by name in a
registry: :func:`register_loss` adds one, :func:`get_loss_class` finds one.
The per-anchor forms (:func:`rince_anchors`, :func:`info_nce_anchors`, the
:class:`PerAnchorLoss` protocol) let each process of a distributed run
compute only its own anchors' share of a gathered batch's loss.

The code is split by concept: ``_scores`` (the similarity scores and ``log S``),
``_positives`` (supervised positives and ``own_view_weight``), ``_rince`` and
``_infonce`` (each loss's functional form, per-anchor form and module),
``_protocol`` (:class:`PerAnchorLoss`) and ``_registry``. Import from this
package: the classes' public names (``__module__``) are
``rince_sklearn.losses.RINCELoss`` and so on, the names that saved models and
pickles hold.

References
----------
.. [1] Chuang, C.-Y., Hjelm, R. D., Wang, X., Vineet, V., Joshi, N., Torralba, A.,
   Jegelka, S. and Song, Y. "Robust Contrastive Learning against Noisy Views",
   CVPR 2022.
.. [2] Chen, T., Kornblith, S., Norouzi, M. and Hinton, G. "A Simple Framework for
   Contrastive Learning of Visual Representations", ICML 2020.
.. [3] Khosla, P., Teterwak, P., Wang, C., Sarna, A., Tian, Y., Isola, P.,
   Maschinot, A., Liu, C. and Krishnan, D. "Supervised Contrastive Learning",
   NeurIPS 2020.
"""

from __future__ import annotations

from ._infonce import InfoNCELoss, info_nce, info_nce_anchors
from ._protocol import PerAnchorLoss
from ._registry import get_loss_class, register_loss, registered_loss_names
from ._rince import RINCELoss, rince, rince_anchors

__all__ = [
    "InfoNCELoss",
    "PerAnchorLoss",
    "RINCELoss",
    "get_loss_class",
    "info_nce",
    "info_nce_anchors",
    "register_loss",
    "registered_loss_names",
    "rince",
    "rince_anchors",
]

# the classes keep the public names they had when this package was one module:
# saved models name their loss class "rince_sklearn.losses:RINCELoss" (see
# rince_sklearn._persistence.ClassAllowList) and pickles name it alike
for _cls in (InfoNCELoss, PerAnchorLoss, RINCELoss):
    _cls.__module__ = __name__
del _cls
