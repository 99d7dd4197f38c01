"""Losses with labels (multi-positive RINCE, SupCon), the float range, the registry."""

import math

import pytest
import torch

from rince_sklearn import InfoNCELoss, RINCELoss, info_nce, rince
from rince_sklearn.losses import get_loss_class, register_loss, registered_loss_names


def slow_supervised(
    z1, z2, labels, *, loss, q=0.5, lam=0.01, temperature=0.5, own_view_weight=None
):
    """Multi-positive losses written anchor by anchor from the formula, float64.

    ``labels`` has one entry per view (2N); negative entries are unlabelled.
    Positives of anchor i: its other view, and every other view j with
    labels[j] == labels[i] >= 0. Per anchor, RINCE is
    mean_p(-exp(q s_p) / q) + (lam S)^q / q, SupCon is mean_p(-s_p) + log S.
    With ``own_view_weight`` w, the means are weighted: w for the own other
    view, (1 - w) / (|P| - 1) for each other positive (weight 1 on the own
    view when there is no other positive).
    """
    z = torch.cat([z1, z2]).double()
    n2 = z.shape[0]
    total = 0.0
    for i in range(n2):
        scores = {}
        for j in range(n2):
            if j != i:
                cos = float(z[i] @ z[j]) / (float(z[i].norm()) * float(z[j].norm()))
                scores[j] = cos / temperature
        positives = [
            j
            for j in scores
            if j == (i + n2 // 2) % n2 or (labels[i] >= 0 and labels[j] == labels[i])
        ]
        partition = sum(math.exp(s) for s in scores.values())
        own = (i + n2 // 2) % n2
        weight = {p: 1 / len(positives) for p in positives}
        if own_view_weight is not None:
            others = len(positives) - 1
            weight = {
                p: (own_view_weight if others else 1.0)
                if p == own
                else (1 - own_view_weight) / others
                for p in positives
            }
        if loss == "infonce":
            total += -sum(weight[p] * scores[p] for p in positives)
            total += math.log(partition)
        else:
            total += -sum(weight[p] * math.exp(q * scores[p]) for p in positives) / q
            total += (lam * partition) ** q / q
    return total / n2


def views(n=6, d=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, d, generator=g, dtype=dtype),
        torch.randn(n, d, generator=g, dtype=dtype),
    )


LABELS = {
    "shared": torch.tensor([0, 1, 0, 2, 1, 0]),
    "partly unlabelled": torch.tensor([0, -1, 0, -1, 1, 1]),
    "per view": torch.tensor([0, 1, 0, 2, 1, 0, 1, 1, 0, -1, 2, 2]),
}


@pytest.mark.parametrize("name", list(LABELS))
@pytest.mark.parametrize("q", [0.05, 0.5, 1.0])
@pytest.mark.parametrize("temperature", [0.004, 0.1, 0.5, 1.0])
def test_supervised_rince_matches_slow_loop(name, q, temperature):
    z1, z2 = views()
    labels = LABELS[name]
    per_view = labels if len(labels) == 12 else torch.cat([labels, labels])
    got = rince(z1, z2, q=q, lam=0.05, temperature=temperature, labels=labels)
    want = slow_supervised(
        z1,
        z2,
        per_view.tolist(),
        loss="rince",
        q=q,
        lam=0.05,
        temperature=temperature,
    )
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(want, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name", list(LABELS))
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_supcon_matches_slow_loop(name, temperature):
    z1, z2 = views(seed=1)
    labels = LABELS[name]
    per_view = labels if len(labels) == 12 else torch.cat([labels, labels])
    got = info_nce(z1, z2, temperature=temperature, labels=labels)
    want = slow_supervised(
        z1, z2, per_view.tolist(), loss="infonce", temperature=temperature
    )
    assert float(got) == pytest.approx(want, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("lam", [0.01, 0.5])
def test_supervised_rince_tends_to_supcon_plus_log_lam(lam):
    z1, z2 = views(seed=2)
    labels = LABELS["shared"]
    want = float(info_nce(z1, z2, 0.5, labels=labels)) + math.log(lam)
    errors = [
        abs(float(rince(z1, z2, q=q, lam=lam, temperature=0.5, labels=labels)) - want)
        for q in (1e-2, 1e-4, 1e-6)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-4


def test_supervised_rince_at_q_one_is_linear_in_exponentiated_scores():
    z1, z2 = views(seed=3)
    labels = LABELS["shared"]
    per_view = torch.cat([labels, labels])
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    e = torch.exp(z @ z.T / 0.5)
    e.fill_diagonal_(0.0)
    own = torch.zeros(12, 12, dtype=torch.bool)
    own[torch.arange(12), torch.arange(12).roll(6)] = True
    mask = own | (per_view[:, None] == per_view[None, :])
    mask.fill_diagonal_(False)
    lam = 0.2
    want = (-(e * mask).sum(1) / mask.sum(1) + lam * e.sum(1)).mean()
    got = rince(z1, z2, q=1.0, lam=lam, temperature=0.5, labels=labels)
    assert float(got) == pytest.approx(float(want), rel=1e-10)


@pytest.mark.parametrize("loss", ["rince", "infonce"])
@pytest.mark.parametrize("name", ["shared", "per view"])
def test_supervised_gradcheck(loss, name):
    z1, z2 = views(n=6, d=3, seed=4)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    labels = LABELS[name]
    if loss == "rince":

        def fn(a, b):
            return rince(a, b, q=0.4, lam=0.05, temperature=0.7, labels=labels)
    else:

        def fn(a, b):
            return info_nce(a, b, temperature=0.7, labels=labels)

    assert torch.autograd.gradcheck(fn, (z1, z2))


@pytest.mark.parametrize(
    "labels",
    [torch.arange(6), torch.full((6,), -1), torch.tensor([3, -1, 7, -1, 0, 1])],
    ids=["distinct", "unlabelled", "mixed"],
)
def test_single_positive_case_equals_the_unsupervised_losses(labels):
    z1, z2 = views(seed=5)
    for q in (0.1, 0.5, 1.0):
        want = RINCELoss(q=q, lam=0.02, temperature=0.3)(z1, z2)
        got = RINCELoss(q=q, lam=0.02, temperature=0.3)(z1, z2, labels=labels)
        assert float(got) == pytest.approx(float(want), rel=1e-10)
    want = InfoNCELoss(temperature=0.3)(z1, z2)
    got = InfoNCELoss(temperature=0.3)(z1, z2, labels=labels)
    assert float(got) == pytest.approx(float(want), rel=1e-10)


def test_same_label_views_are_pulled_together():
    # two samples of one class: the loss is lower when their views align
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    z2 = z1.clone()
    near = torch.tensor([[1.0, 0.0], [0.9, 0.1], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1])
    for loss in (
        lambda a, b: rince(a, b, q=1.0, labels=labels),
        lambda a, b: info_nce(a, b, labels=labels),
    ):
        assert float(loss(near, near)) < float(loss(z1, z2))


def test_supervised_small_temperature_is_finite_in_low_precision():
    g = torch.Generator().manual_seed(6)
    labels = torch.randint(0, 4, (64,), generator=g)
    z1 = torch.randn(64, 32, generator=g).bfloat16().requires_grad_(True)
    z2 = z1.detach() + 0.01 * torch.randn(64, 32, generator=g).bfloat16()
    value = rince(z1, z2, q=0.5, lam=0.01, temperature=0.02, labels=labels)
    assert torch.isfinite(value) and value.dtype == torch.float32
    value.backward()
    assert torch.isfinite(z1.grad).all()
    assert torch.isfinite(info_nce(z1, z2, temperature=0.02, labels=labels))


def test_bad_labels():
    z1, z2 = views()
    with pytest.raises(ValueError, match="length N = 6"):
        rince(z1, z2, labels=torch.zeros(5, dtype=torch.long))
    with pytest.raises(TypeError, match="integer tensor"):
        info_nce(z1, z2, labels=torch.zeros(6))
    with pytest.raises(TypeError, match="torch tensor"):
        rince(z1, z2, labels=[0] * 6)


# -- the float32 range of RINCE ----------------------------------------------
@pytest.mark.parametrize("q_over_t", [87.0, 100.0, 200.0])
@pytest.mark.parametrize("q", [1.0, 0.5])
@pytest.mark.parametrize("supervised", [False, True])
def test_rince_is_finite_far_past_float32_exponents(q_over_t, q, supervised):
    # 128 anchors with aligned views: each term is about -exp(q / T) / q; the
    # old float32 mean overflowed to -inf at q / T = 87
    g = torch.Generator().manual_seed(7)
    z1 = torch.randn(64, 16, generator=g)
    z2 = z1 + 1e-3 * torch.randn(64, 16, generator=g)
    labels = torch.randint(0, 5, (64,), generator=g) if supervised else None
    value = rince(z1, z2, q=q, lam=0.01, temperature=q / q_over_t, labels=labels)
    assert torch.isfinite(value)
    want = slow_float64(z1, z2, q, 0.01, q / q_over_t, labels)
    assert float(value) == pytest.approx(want, rel=1e-4)


def slow_float64(z1, z2, q, lam, temperature, labels):
    """The loss from the formula in float64 (exp(200) is fine there)."""
    labels = torch.arange(len(z1)) if labels is None else labels
    per_view = torch.cat([labels, labels]).tolist()
    z = torch.nn.functional.normalize(torch.cat([z1, z2]).double(), dim=1)
    sim = (z @ z.T / temperature).tolist()
    n2 = len(per_view)
    total = 0.0
    for i in range(n2):
        pos = [
            j
            for j in range(n2)
            if j != i and (j == (i + n2 // 2) % n2 or per_view[j] == per_view[i])
        ]
        part = sum(math.exp(sim[i][j]) for j in range(n2) if j != i)
        total += -sum(math.exp(q * sim[i][p]) for p in pos) / (q * len(pos))
        total += (lam * part) ** q / q
    return total / n2


def test_rince_stays_float32_and_has_gradients_below_the_bound():
    g = torch.Generator().manual_seed(8)
    z1 = torch.randn(64, 16, generator=g).requires_grad_(True)
    z2 = z1.detach() + 1e-3 * torch.randn(64, 16, generator=g)
    value = rince(z1, z2, q=1.0, lam=0.01, temperature=1 / 85)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(z1.grad).all()


# -- the registry ------------------------------------------------------------
def test_registry_holds_the_built_in_losses():
    assert get_loss_class("rince") is RINCELoss
    assert get_loss_class("infonce") is InfoNCELoss
    assert {"rince", "infonce"} <= registered_loss_names()
    with pytest.raises(ValueError, match="registered losses"):
        get_loss_class("nope")


def test_register_loss_refuses_what_is_not_a_module_class():
    with pytest.raises(TypeError, match="subclass of torch.nn.Module"):
        register_loss("bad", lambda z1, z2: z1.sum())
    with pytest.raises(TypeError, match="non-empty str"):
        register_loss("", RINCELoss)


class _AlignLoss(torch.nn.Module):
    def forward(self, z1, z2):
        return (z1 - z2).pow(2).sum(dim=1).mean()


class _OtherAlignLoss(_AlignLoss):
    pass


def test_register_loss_refuses_a_taken_name_unless_replace(monkeypatch):
    from rince_sklearn.losses import _registry

    # a private copy of the registry: nothing registered here leaks out
    monkeypatch.setattr(_registry, "_LOSSES", dict(_registry._LOSSES))
    for taken in ("rince", "infonce"):  # the built-in losses are protected too
        with pytest.raises(ValueError, match=f"'{taken}' is already registered"):
            register_loss(taken, _AlignLoss)
        assert get_loss_class(taken) in (RINCELoss, InfoNCELoss)
    register_loss("align", _AlignLoss)
    register_loss("align", _AlignLoss)  # the same class again: no error
    with pytest.raises(ValueError, match="pass replace=True") as error:
        register_loss("align", _OtherAlignLoss)
    assert "_AlignLoss" in str(error.value) and "_OtherAlignLoss" in str(error.value)
    assert get_loss_class("align") is _AlignLoss  # unchanged by the refusal
    register_loss("align", _OtherAlignLoss, replace=True)
    assert get_loss_class("align") is _OtherAlignLoss
    register_loss("rince", _AlignLoss, replace=True)
    assert get_loss_class("rince") is _AlignLoss


# -- the own view weighted above the same-label positives --------------------------
@pytest.mark.parametrize("name", list(LABELS))
@pytest.mark.parametrize("weight", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("loss", ["rince", "infonce"])
@pytest.mark.parametrize("temperature", [0.005, 0.02, 0.5])
def test_own_view_weight_matches_slow_loop(name, weight, loss, temperature):
    # temperature 0.005 (q / T = 100) takes rince's log-space path, where
    # exp(q s) would overflow float32; the others sum the powers by class
    z1, z2 = views()
    labels = LABELS[name]
    per_view = labels if len(labels) == 12 else torch.cat([labels, labels])
    kwargs = {"temperature": temperature, "labels": labels, "own_view_weight": weight}
    if loss == "rince":
        got = rince(z1, z2, q=0.5, lam=0.05, **kwargs)
    else:
        got = info_nce(z1, z2, **kwargs)
    want = slow_supervised(
        z1,
        z2,
        per_view.tolist(),
        loss=loss,
        q=0.5,
        lam=0.05,
        temperature=temperature,
        own_view_weight=weight,
    )
    assert float(got) == pytest.approx(want, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("loss", [rince, info_nce])
def test_own_view_weight_one_ignores_the_labels(loss):
    z1, z2 = views()
    labelled = loss(z1, z2, labels=LABELS["shared"], own_view_weight=1.0)
    assert float(labelled) == pytest.approx(float(loss(z1, z2)), rel=1e-12)


def test_weighted_rince_tends_to_weighted_supcon_plus_log_lam():
    z1, z2 = views()
    kwargs = {"labels": LABELS["shared"], "own_view_weight": 0.5}
    supcon = float(info_nce(z1, z2, temperature=0.5, **kwargs))
    small_q = rince(z1, z2, q=1e-7, lam=0.1, temperature=0.5, **kwargs)
    assert float(small_q) == pytest.approx(supcon + math.log(0.1), abs=1e-5)


@pytest.mark.parametrize("loss", ["rince", "infonce"])
def test_own_view_weight_gradcheck(loss):
    z1, z2 = views(n=4, d=3)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    labels = torch.tensor([0, 1, 0, -1])
    if loss == "rince":
        fn = lambda a, b: rince(a, b, q=0.7, labels=labels, own_view_weight=0.4)  # noqa: E731
    else:
        fn = lambda a, b: info_nce(a, b, labels=labels, own_view_weight=0.4)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (z1, z2))


@pytest.mark.parametrize("bad", [-0.1, 1.5, "half", True, float("nan")])
def test_bad_own_view_weight(bad):
    with pytest.raises(ValueError, match="own_view_weight"):
        RINCELoss(own_view_weight=bad)
    with pytest.raises(ValueError, match="own_view_weight"):
        InfoNCELoss(own_view_weight=bad)
    z1, z2 = views()
    with pytest.raises(ValueError, match="own_view_weight"):
        rince(z1, z2, labels=LABELS["shared"], own_view_weight=bad)


def test_loss_modules_pass_the_weight_on():
    z1, z2 = views()
    labels = LABELS["shared"]
    module = RINCELoss(q=1.0, own_view_weight=0.5)
    assert "own_view_weight=0.5" in repr(module)
    assert float(module(z1, z2, labels=labels)) == pytest.approx(
        float(rince(z1, z2, q=1.0, labels=labels, own_view_weight=0.5))
    )
    assert float(InfoNCELoss(own_view_weight=0.5)(z1, z2, labels=labels)) == (
        pytest.approx(float(info_nce(z1, z2, labels=labels, own_view_weight=0.5)))
    )


@pytest.mark.parametrize("temperature", [0.06, 0.1])
def test_own_view_weight_zero_with_dominant_own_views_is_finite(temperature):
    # own views aligned, same-label views opposite: the same-label sum is tiny
    # next to the own view's term; it must not be taken back out of a sum
    # that holds it (rounding made that negative: NaN)
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(8, 4, generator=g)
    z1[4:] = -z1[:4]  # samples i and i + 4 point opposite ways
    z1.requires_grad_(True)
    z2 = (z1 + 1e-3).detach().requires_grad_(True)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    loss = rince(
        z1, z2, q=1.0, temperature=temperature, labels=labels, own_view_weight=0.0
    )
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("loss", [rince, info_nce])
def test_labelled_losses_stay_in_float32_under_autocast(dtype, loss):
    z1, z2 = views(n=16, d=8, dtype=torch.float32)
    labels = torch.tensor([0, 1, 2, 3] * 4)
    kwargs = {"temperature": 0.05, "labels": labels, "own_view_weight": 0.5}
    if loss is rince:
        kwargs["q"] = 1.0
    want = loss(z1, z2, **kwargs)
    with torch.autocast(device_type="cpu", dtype=dtype):
        got = loss(z1, z2, **kwargs)
    assert torch.isfinite(got)
    assert float(got) == pytest.approx(float(want), rel=1e-4)
