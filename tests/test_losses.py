"""RINCE and InfoNCE against the paper's formula, limits, gradients, stability."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rince_sklearn import InfoNCELoss, RINCELoss, info_nce, rince


def slow_reference(z1, z2, *, loss, q=0.5, lam=0.01, temperature=0.5):
    """The loss written anchor by anchor from DESIGN.md / the paper, in float64."""
    z = torch.cat([z1, z2]).double()
    n2 = z.shape[0]
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        p = (i + n) % n2
        scores = []
        for j in range(n2):
            if j == i:
                continue
            cos = float(z[i] @ z[j]) / (float(z[i].norm()) * float(z[j].norm()))
            scores.append((j, cos / temperature))
        s_pos = dict(scores)[p]
        partition = sum(math.exp(s) for _, s in scores)
        if loss == "infonce":
            total += -s_pos + math.log(partition)
        else:
            total += -math.exp(q * s_pos) / q + (lam * partition) ** q / q
    return total / n2


def views(n=6, d=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(
        n, d, generator=g, dtype=dtype
    )


@pytest.mark.parametrize("q", [0.05, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("lam", [0.001, 0.01, 0.5])
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_rince_matches_slow_loop(q, lam, temperature):
    z1, z2 = views()
    got = rince(z1, z2, q=q, lam=lam, temperature=temperature)
    want = slow_reference(z1, z2, loss="rince", q=q, lam=lam, temperature=temperature)
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(want, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_info_nce_matches_slow_loop(temperature):
    z1, z2 = views(n=7, d=3, seed=1)
    got = info_nce(z1, z2, temperature=temperature)
    want = slow_reference(z1, z2, loss="infonce", temperature=temperature)
    assert float(got) == pytest.approx(want, rel=1e-6, abs=1e-6)


def test_info_nce_equals_cross_entropy_form():
    z1, z2 = views(n=8, d=4, seed=2)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / 0.3
    sim.fill_diagonal_(float("-inf"))
    target = torch.arange(16).roll(8)
    want = torch.nn.functional.cross_entropy(sim, target)
    assert float(info_nce(z1, z2, 0.3)) == pytest.approx(float(want), rel=1e-10)


@pytest.mark.parametrize("lam", [0.01, 0.1, 2.0])
def test_rince_tends_to_info_nce_plus_log_lam(lam):
    z1, z2 = views(seed=3)
    want = float(info_nce(z1, z2, 0.5)) + math.log(lam)
    errors = [
        abs(float(rince(z1, z2, q=q, lam=lam, temperature=0.5)) - want)
        for q in (1e-2, 1e-4, 1e-6)
    ]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-4


@pytest.mark.parametrize("lam", [0.01, 0.3, 1.0])
def test_rince_closed_form_at_q_one(lam):
    z1, z2 = views(seed=4)
    n = z1.shape[0]
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    e = torch.exp(z @ z.T / 0.5)
    pos = e[torch.arange(2 * n), torch.arange(2 * n).roll(n)]
    neg = e.sum(1) - e.diagonal() - pos
    want = (-(1 - lam) * pos + lam * neg).mean()
    got = rince(z1, z2, q=1.0, lam=lam, temperature=0.5)
    assert float(got) == pytest.approx(float(want), rel=1e-10)


@pytest.mark.parametrize("loss", ["rince", "infonce"])
def test_gradcheck(loss):
    z1, z2 = views(n=4, d=3, seed=5)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    if loss == "rince":

        def fn(a, b):
            return rince(a, b, q=0.4, lam=0.05, temperature=0.7)
    else:

        def fn(a, b):
            return info_nce(a, b, temperature=0.7)

    assert torch.autograd.gradcheck(fn, (z1, z2))


def naive_rince(z1, z2, q, lam, temperature):
    """The formula evaluated directly, in the inputs' dtype (what not to do)."""
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    e = torch.exp(z @ z.T / temperature)
    e = e - torch.diag(e.diagonal())
    pos = e[torch.arange(2 * n), torch.arange(2 * n).roll(n)]
    s = e.sum(1)
    return (-(pos**q) / q + (lam * s) ** q / q).mean()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("loss", ["rince", "infonce"])
def test_small_temperature_is_finite(dtype, loss):
    g = torch.Generator().manual_seed(6)
    z1 = torch.randn(64, 32, generator=g).to(dtype).requires_grad_(True)
    z2 = z1.detach() + 0.01 * torch.randn(64, 32, generator=g).to(dtype)
    z2.requires_grad_(True)
    if loss == "rince":
        value = rince(z1, z2, q=0.5, lam=0.01, temperature=0.02)
    else:
        value = info_nce(z1, z2, temperature=0.02)
    assert torch.isfinite(value)
    assert value.dtype == torch.float32  # computed in at least float32
    value.backward()
    if dtype is not torch.float16:
        # float16 cannot hold RINCE's gradients here (about exp(q / t) = 7e10);
        # bfloat16 has float32's range
        assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


def test_naive_formula_overflows_where_ours_does_not():
    g = torch.Generator().manual_seed(7)
    z1 = torch.randn(32, 16, generator=g)
    z2 = z1 + 0.01 * torch.randn(32, 16, generator=g)
    # float16 at temperature 0.02: exp(50) is past float16's range
    assert not torch.isfinite(naive_rince(z1.half(), z2.half(), 0.5, 0.01, 0.02))
    assert torch.isfinite(rince(z1.half(), z2.half(), 0.5, 0.01, 0.02))
    # float32 at temperature 0.01: exp(100) is past float32's range
    assert not torch.isfinite(naive_rince(z1, z2, 0.5, 0.01, 0.01))
    assert torch.isfinite(rince(z1, z2, 0.5, 0.01, 0.01))
    assert torch.isfinite(info_nce(z1, z2, 0.01))


def test_loss_under_autocast_is_computed_in_float32():
    z1, z2 = views(n=8, d=4, dtype=torch.float32, seed=8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = rince(z1, z2)
    assert value.dtype == torch.float32
    assert float(value) == pytest.approx(float(rince(z1, z2)), rel=1e-6)


def test_rince_can_be_negative():
    z = torch.eye(8)
    assert float(rince(z, z, q=1.0, lam=0.01, temperature=0.5)) < 0


def test_modules_match_functions():
    z1, z2 = views(seed=9)
    assert float(RINCELoss(0.3, 0.1, 0.2)(z1, z2)) == float(
        rince(z1, z2, 0.3, 0.1, 0.2)
    )
    assert float(InfoNCELoss(0.2)(z1, z2)) == float(info_nce(z1, z2, 0.2))
    assert "q=0.3" in repr(RINCELoss(0.3, 0.1, 0.2))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"q": 0.0}, "q must be a finite number > 0"),
        ({"q": 1.5}, r"q must lie in \(0, 1\]"),
        ({"lam": 0.0}, "lam must be a finite number > 0"),
        ({"lam": float("nan")}, "lam must be a finite number > 0"),
        ({"temperature": -1.0}, "temperature must be a finite number > 0"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RINCELoss(**kwargs)


def test_bad_parameter_types():
    with pytest.raises(TypeError, match="q must be a real number"):
        RINCELoss(q="0.5")
    with pytest.raises(TypeError, match="temperature must be a real number"):
        InfoNCELoss(temperature=None)


def test_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        rince(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="2-D"):
        info_nce(torch.randn(4), torch.randn(4))
    with pytest.raises(ValueError, match="at least 2 samples"):
        rince(torch.randn(1, 3), torch.randn(1, 3))
    with pytest.raises(TypeError, match="torch tensors"):
        info_nce([[1.0, 2.0]], [[1.0, 2.0]])


finite_views = st.integers(min_value=2, max_value=9).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.integers(min_value=1, max_value=6),
        st.integers(min_value=0, max_value=2**31 - 1),
    )
)


def _draw(spec):
    n, d, seed = spec
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64)
    z2 = torch.randn(n, d, generator=g, dtype=torch.float64)
    return z1, z2


@settings(max_examples=40, deadline=None)
@given(
    finite_views,
    st.floats(0.01, 1.0),
    st.floats(1e-3, 1.0),
    st.floats(0.05, 2.0),
    st.floats(0.1, 10.0),
)
def test_properties(spec, q, lam, temperature, scale):
    z1, z2 = _draw(spec)
    value = float(rince(z1, z2, q, lam, temperature))
    assert math.isfinite(value)
    # symmetric in the two views
    assert float(rince(z2, z1, q, lam, temperature)) == pytest.approx(value, rel=1e-9)
    # cosine similarity: invariant to the scale of the projections
    assert float(rince(scale * z1, z2, q, lam, temperature)) == pytest.approx(
        value, rel=1e-9, abs=1e-12
    )
    # invariant to the order of the samples
    perm = torch.randperm(len(z1), generator=torch.Generator().manual_seed(1))
    assert float(rince(z1[perm], z2[perm], q, lam, temperature)) == pytest.approx(
        value, rel=1e-9, abs=1e-12
    )
    # increasing in lam
    assert float(rince(z1, z2, q, 2 * lam, temperature)) > value
    # InfoNCE is non-negative (S includes exp(s+))
    assert float(info_nce(z1, z2, temperature)) >= -1e-12


# -- the losses of some anchors (a process's share in distributed training) -----
def _anchor_loop(z1, z2, a, q, lam, temperature):
    """One anchor's loss straight from the formula (a: index into cat([z1, z2]))."""
    z = torch.nn.functional.normalize(torch.cat([z1, z2]).double(), dim=1)
    n = len(z1)
    pos = (a + n) % (2 * n)
    s = [float(z[a] @ z[k]) / temperature for k in range(2 * n)]
    big_s = sum(math.exp(s[k]) for k in range(2 * n) if k != a)
    if q is None:
        return -s[pos] + math.log(big_s)
    return -math.exp(q * s[pos]) / q + (lam * big_s) ** q / q


@pytest.mark.parametrize("q", [None, 0.3, 1.0])
def test_anchor_losses_follow_the_formula_and_partition_the_loss(q):
    from rince_sklearn.losses import info_nce_anchors, rince_anchors

    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    anchors = torch.tensor([3, 12, 0, 9])  # any subset, any order
    if q is None:
        some = info_nce_anchors(z1, z2, anchors, temperature=0.4)
        whole = info_nce(z1, z2, temperature=0.4)
        parts = [info_nce_anchors(z1, z2, p, 0.4) for p in torch.arange(14).split(5)]
    else:
        some = rince_anchors(z1, z2, anchors, q=q, lam=0.05, temperature=0.4)
        whole = rince(z1, z2, q=q, lam=0.05, temperature=0.4)
        parts = [
            rince_anchors(z1, z2, p, q=q, lam=0.05, temperature=0.4)
            for p in torch.arange(14).split(5)
        ]
    expected = [_anchor_loop(z1, z2, int(a), q, 0.05, 0.4) for a in anchors]
    torch.testing.assert_close(
        some.double(), torch.tensor(expected, dtype=torch.float64), rtol=1e-5, atol=1e-6
    )
    total = sum(p.sum() for p in parts) / 14  # shares over a partition
    torch.testing.assert_close(total, whole, atol=1e-6, rtol=1e-6)


def test_anchor_losses_are_methods_of_the_modules_and_check_their_anchors():
    from rince_sklearn.losses import info_nce_anchors, rince_anchors

    z1, z2 = torch.randn(4, 3), torch.randn(4, 3)
    anchors = torch.tensor([1, 6])
    torch.testing.assert_close(
        RINCELoss(q=0.5, lam=0.01).anchor_losses(z1, z2, anchors),
        rince_anchors(z1, z2, anchors, q=0.5, lam=0.01),
    )
    torch.testing.assert_close(
        InfoNCELoss().anchor_losses(z1, z2, anchors),
        info_nce_anchors(z1, z2, anchors),
    )
    with pytest.raises(ValueError, match="anchors must be a 1-D index"):
        rince_anchors(z1, z2, torch.tensor([8]))


def test_anchor_losses_stay_finite_where_rince_does():
    """Past q / temperature = 88 the per-anchor terms move to float64, as rince's."""
    from rince_sklearn.losses import rince_anchors

    z = torch.nn.functional.normalize(
        torch.randn(8, 4, generator=torch.Generator().manual_seed(0)), dim=1
    )
    whole = rince(z, z, q=1.0, lam=0.01, temperature=0.01)
    every = rince_anchors(z, z, torch.arange(16), q=1.0, lam=0.01, temperature=0.01)
    assert torch.isfinite(whole) and torch.isfinite(every).all()
    torch.testing.assert_close(every.mean(), whole.to(every.dtype), rtol=1e-6, atol=0)
