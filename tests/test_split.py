"""The density split's loop of passes (``split.fixed_point``) on scripted backends: the
stopping rule, the extrapolation and the notes, without a solve."""

import math

import numpy as np
import pytest

from fokkerplanck._solvers import split


class Contraction:
    """A backend whose pass maps ``x = log(p_0 / p_1)`` (two cells) to ``r x + c``: the
    fixed point is ``c / (1 - r)``. ``fail_at``: the pass whose answer is not a density."""

    def __init__(self, r, c, fail_at=None):
        self.r, self.c, self.fail_at = r, c, fail_at
        self.xs, self.notes, self.solves = [], [], 0

    def total(self, a):
        return float(a.sum())

    def largest(self, v):
        return v

    def bulk(self, p):
        return split.bulk_cells(p)

    def solve(self, used, loose):
        self.solves += 1
        if self.solves == self.fail_at:
            return None, False
        x = self.r * math.log(used[0] / used[1]) + self.c
        self.pending = np.array([math.exp(x), 1.0])
        return self.pending, False

    def accept(self):
        self.xs.append(math.log(self.pending[0] / self.pending[1]))

    def certify(self):
        raise AssertionError("no pass is loose")

    def note(self, text):
        self.notes.append(text)


def _changes(r, c, passes):
    """The plain passes' changes of log p, computed directly (two cells, normalised)."""
    out, x = [], 0.0
    for _ in range(passes):
        y = r * x + c
        out.append(max(abs(y - math.log1p(math.exp(y)) - x + math.log1p(math.exp(x))),
                       abs(math.log1p(math.exp(y)) - math.log1p(math.exp(x)))))
        x = y
    return out


def test_plain_passes_stop_at_the_first_change_below_the_tolerance(monkeypatch):
    monkeypatch.setattr(split, "SPLIT_ANDERSON", False)
    backend = Contraction(0.3, 1.0)
    passes, change = split.fixed_point(np.array([1.0, 1.0]), backend)
    expected = _changes(0.3, 1.0, 20)
    first = next(k for k, v in enumerate(expected) if v <= split.SPLIT_RTOL) + 1
    assert passes == first and change == pytest.approx(expected[first - 1], rel=1e-9)
    assert backend.xs[-1] == pytest.approx(1.0 / 0.7, abs=2e-3)


def test_extrapolated_passes_reach_the_fixed_point_in_fewer_passes(monkeypatch):
    # a slow contraction (r = 0.7): plain passes need 21, the extrapolated ones (Aitken's
    # step on a nearly linear map) 6, and end 25x nearer the fixed point
    plain, fast = Contraction(0.7, 1.0), Contraction(0.7, 1.0)
    monkeypatch.setattr(split, "SPLIT_MAX_PASSES", 40)
    monkeypatch.setattr(split, "SPLIT_ANDERSON", False)
    n_plain, _ = split.fixed_point(np.array([1.0, 1.0]), plain)
    monkeypatch.setattr(split, "SPLIT_ANDERSON", True)
    n_fast, change = split.fixed_point(np.array([1.0, 1.0]), fast)
    assert n_fast <= n_plain // 3 and change <= split.SPLIT_RTOL
    assert abs(fast.xs[-1] - 1.0 / 0.3) < 0.1 * abs(plain.xs[-1] - 1.0 / 0.3)


def test_a_pass_that_gives_no_density_keeps_the_one_before():
    backend = Contraction(0.3, 1.0, fail_at=3)
    passes, _ = split.fixed_point(np.array([1.0, 1.0]), backend)
    assert passes == 2 and len(backend.xs) == 2
    assert backend.notes == ["split pass 3 gave a density that is not positive; kept the one before"]


def test_passes_that_do_not_contract_stop_and_return_the_most_self_consistent_one(monkeypatch):
    # an expansion (r = -1.5 about the fixed point): the changes grow, the loop stops at
    # the first growth and solves the best pass (the first) again
    monkeypatch.setattr(split, "SPLIT_ANDERSON", False)
    backend = Contraction(-1.5, 1.0)
    passes, change = split.fixed_point(np.array([1.0, 1.0]), backend)
    changes = _changes(-1.5, 1.0, passes)
    assert passes == 2 and changes[1] > changes[0]
    assert change == pytest.approx(changes[0], rel=1e-9) and backend.solves == 3
    assert backend.notes[-1].startswith("returned split pass 1")


class LooseThenCertified(Contraction):
    """Loose passes (a contraction) whose certified answer lies ``drift`` away in
    ``log(p_0 / p_1)``: a metastable chain, whose split a loose solve does not fix."""

    def __init__(self, r, c, drift):
        super().__init__(r, c)
        self.drift, self.certified, self.asked = drift, 0, []

    def solve(self, used, loose):
        self.asked.append(loose)
        p, _ = super().solve(used, loose)
        return p, loose

    def certify(self):
        self.certified += 1
        x = math.log(self.pending[0] / self.pending[1]) + self.drift
        return np.array([math.exp(x), 1.0])


def test_a_certified_answer_far_from_the_loose_one_sends_the_passes_on_certified(monkeypatch):
    # the loose passes converge; the last one's certified answer is 0.5 away (more than
    # SPLIT_RTOL / 10): the passes go on, certified, from there, with a budget of their own,
    # and the note says why; a drift below SPLIT_RTOL / 10 ends the split at once
    monkeypatch.setattr(split, "SPLIT_ANDERSON", False)
    far = LooseThenCertified(0.3, 1.0, drift=0.5)
    passes, change = split.fixed_point(np.array([1.0, 1.0]), far)
    loose_passes = far.asked.index(False)
    assert loose_passes == 7 and far.certified == 1 and all(not a for a in far.asked[loose_passes:])
    assert passes > loose_passes and change <= split.SPLIT_RTOL
    x = far.xs[loose_passes - 1]   # the loose answer's log(p_0 / p_1); the certified one is x + 0.5
    drift = math.log1p(math.exp(x + 0.5)) - math.log1p(math.exp(x))   # |change of log p_1|, the larger
    assert any(f"were {drift:.1e} off in log p" in note for note in far.notes)
    near = LooseThenCertified(0.3, 1.0, drift=1e-6)
    passes, _ = split.fixed_point(np.array([1.0, 1.0]), near)
    assert passes == 7 and near.certified == 1 and near.notes == []


def test_a_3d_split_at_high_peclet_that_does_not_converge_is_flagged_not_reported_clean():
    # the hard regime: a rotating double well on 16^3 cells (cell Peclet 7, rotation a = 1,
    # T = 0.5). The split does not converge (measured: 2 passes, change 3.0) and its answer
    # is less accurate than Scharfetter-Gummel's (L1 0.125 against 0.079 to the exact
    # exp(-2L)): the result must say so (not converged, the warning, the resolution
    # warning), not come back clean
    import warnings

    import fokkerplanck as fp

    def loss(x):
        return (x[..., 0] ** 2 - 1) ** 2 + 0.5 * (x[..., 1] ** 2 + x[..., 2] ** 2)

    def drift(x):
        g = np.stack([4 * x[..., 0] * (x[..., 0] ** 2 - 1), x[..., 1], x[..., 2]], -1)
        return -g + np.stack([g[..., 1], -g[..., 0], np.zeros_like(g[..., 0])], -1)

    grid = fp.Grid(bounds=[(-2.5, 2.5)] * 3, shape=(16,) * 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fp.stationary(fp.SDE(drift=drift, sigma=1.0), grid, error_estimate=False)
    texts = [str(w.message) for w in caught]
    assert "not converged" in res.message
    assert any("did not reach its fixed point" in t and "in 3-D at cell Peclet 7 less accurate" in t for t in texts)
    assert any("cell Peclet number exceeds 5" in t for t in texts)
    exact = np.exp(-2 * loss(grid.points()))
    exact /= grid.integrate(exact)
    assert grid.integrate(np.abs(res.density - exact)) > 0.05   # (why it must be flagged)
