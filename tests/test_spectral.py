"""Spectral gap and slow modes: ranking by real part, oscillating pairs, and gaps far
below round-off of the generator's norm against references computed independently.
"""

import mpmath as mp
import numpy as np
import pytest

import fokkerplanck as fp
from fokkerplanck._solvers import spectral

H_ROT = np.array([[1.0, -3.0], [3.0, 1.0]])       # drift -H x: eigenvalues of -H are -1 +- 3i
OU_ROT = fp.SDE(drift=lambda x: -x @ H_ROT.T, sigma=np.eye(2))
WELL = lambda x: x[..., 0] ** 4 / 4 - x[..., 0] ** 2 / 2


def double_well(T):
    return fp.SDE(loss=WELL, sigma=np.sqrt(2 * T))   # dx = -U' dt + sqrt(2T) dB


def sturm_gap(A, j=1, dps=60, rtol=1e-9):
    """``j``-th slowest nonzero rate of a 1-D birth-death generator, independently of the package:
    bisection on the Sturm count (signs of the LDL^T pivots) of the symmetrized
    tridiagonal, in ``dps``-digit arithmetic, with the diagonal rebuilt from the rates
    so that the columns sum to zero exactly."""
    A = A.tocsr()
    n = A.shape[0]
    with mp.workdps(dps):
        up = [mp.mpf(float(A[i + 1, i])) for i in range(n - 1)]     # rate i -> i+1
        down = [mp.mpf(float(A[i, i + 1])) for i in range(n - 1)]   # rate i+1 -> i
        diag = [-up[0]] + [-(up[i] + down[i - 1]) for i in range(1, n - 1)] + [-down[-1]]
        off2 = [u * d for u, d in zip(up, down)]

        def below(x):  # number of eigenvalues < x
            d = diag[0] - x
            count = int(d < 0)
            for i in range(1, n):
                d = diag[i] - x - off2[i - 1] / d
                count += int(d < 0)
            return count

        hi = 4 * max(abs(v) for v in diag)           # all eigenvalues above -hi
        lo = hi
        while below(-lo) <= n - 1 - j:                # until only j eigenvalues lie above -lo
            lo /= 10
        while hi - lo > rtol * hi:
            mid = mp.sqrt(lo * hi) if hi > 2 * lo else (lo + hi) / 2
            if below(-mid) <= n - 1 - j:
                hi = mid
            else:
                lo = mid
        return float((lo + hi) / 2)


def test_rotation_gap_is_the_oscillating_pair():
    # the old ranking by modulus returned the real eigenvalue -2 (1.98) and skipped -1 +- 3i
    grid = fp.Grid(bounds=[(-4.5, 4.5), (-4.5, 4.5)], shape=(128, 128))
    gap = fp.spectral_gap(OU_ROT, grid)
    m = fp.modes(OU_ROT, grid, k=1)
    assert gap == pytest.approx(m.rates[0], rel=1e-8)
    assert gap == pytest.approx(1.0, rel=0.02)
    assert m.oscillating[0] and m.frequencies[0] == pytest.approx(3.0, rel=0.02)
    assert m.eigenvalues[0].imag > 0 and m.modes.dtype == complex
    assert m.frequency_window > 1.5 * m.frequencies[0] and m.success


def test_ou_eigenvalues_in_real_part_order():
    # exact: -(n1 l1 + n2 l2), l = 1 -+ 3i. By rate: 1 (freq 3), then 2 (freq 0) and
    # 2 (freq 6, |lambda| = 6.3, beyond -4 and -3 +- 3i in modulus), then 3 ...
    ms = [fp.modes(OU_ROT, fp.Grid(bounds=[(-4.5, 4.5), (-4.5, 4.5)], shape=(n, n)), k=3)
          for n in (48, 64)]
    for m in ms:
        assert list(m.oscillating) == [True, False, True]
        assert np.all(np.diff(m.rates) >= 0)
    lam = (64**2 * ms[1].eigenvalues - 48**2 * ms[0].eigenvalues) / (64**2 - 48**2)  # O(h^2)
    np.testing.assert_allclose(lam, [-1 + 3j, -2, -2 + 6j], rtol=0.01)


def test_reversible_ou_rates_and_window():
    m = fp.modes(fp.ornstein_uhlenbeck(1.0, 1.0), fp.Grid(bounds=[(-6, 6)], shape=400), k=3)
    np.testing.assert_allclose(m.rates, [1, 2, 3], rtol=1e-3)
    assert m.symmetric and m.method == "eigsh" and m.frequency_window == np.inf
    assert not m.oscillating.any() and np.all(m.solver_error < 1e-8)


def test_double_well_gap_below_roundoff_t001():
    # T = 0.01: gap 6.15e-12, ~1.5 eps ||A||: ARPACK was 2 % off. Reference for the
    # continuous problem: Sturm bisection (above) at 1200/2400/4800 cells, 40 digits,
    # Richardson-extrapolated (observed order 2.0001): 6.1546502e-12.
    grid = fp.Grid(bounds=[(-3, 3)], shape=2400)
    m = fp.modes(double_well(0.01), grid, k=2)
    assert m.method == "eigsh+reduction"
    assert m.rates[0] == pytest.approx(6.154960804778957e-12, rel=1e-9)  # discrete, 2400 cells
    assert m.rates[0] == pytest.approx(6.1546502e-12, rel=1e-4)          # continuous
    assert m.solver_error[0] < 1e-9 * m.rates[0]


def test_double_well_gap_t0005_against_subtraction_free_reference():
    # T = 0.005: gap 8.6e-23, 1e10 times below eps ||A||; was 7.6e-14 or negative
    grid = fp.Grid(bounds=[(-3, 3)], shape=600)
    sde = double_well(0.005)
    ref = sturm_gap(fp.generator(sde, grid))
    gap = fp.spectral_gap(sde, grid)
    assert gap == pytest.approx(ref, rel=1e-3)
    assert gap == pytest.approx(ref, rel=1e-8)       # in fact to the reference's accuracy
    m = fp.modes(sde, grid, k=2)
    assert m.solver_error[0] < 1e-10 * m.rates[0]
    assert m.rates[1] == pytest.approx(sturm_gap(fp.generator(sde, grid), j=2), rel=1e-6)  # intra-well mode
    # the slow mode: one sign in each well
    x, v = grid.centers[0], m.modes[0]
    big = np.abs(v) > 1e-6
    left, right = np.sign(v[big & (x < 0)]), np.sign(v[big & (x > 0)])
    assert np.all(left == left[0]) and np.all(right == -left[0])


def test_three_wells_with_rates_twenty_orders_apart():
    # barriers 0.14 and 0.37 at T = 0.005: rates 1.3e-12 and 6.8e-28, both below
    # 1e6 eps ||A||; the reduced 3 x 3 problem mixes both scales (50-digit solve)
    U = lambda x: -(0.125 + 0.06 * np.tanh(4 * x[..., 0])) * np.cos(2 * np.pi * x[..., 0])
    sde = fp.SDE(loss=U, sigma=np.sqrt(2 * 0.005))
    grid = fp.Grid(bounds=[(-1.5, 1.5)], shape=300)
    A = fp.generator(sde, grid)
    m = fp.modes(sde, grid, k=3)
    np.testing.assert_allclose(m.rates[:2], [sturm_gap(A, 1), sturm_gap(A, 2)], rtol=1e-8)
    assert m.rates[2] > 1 and np.all(m.solver_error[:2] < 1e-9 * m.rates[:2])


def test_two_dimensional_metastable_gap_is_the_one_dimensional_one():
    # U = x^4/4 - x^2/2 + y^2/2 with diagonal noise: the SG generator is the Kronecker
    # sum of the x- and y-chains, so the 2-D gap is the 1-D x-chain's gap (~1e-21).
    T = 0.0055
    sde2 = fp.SDE(loss=lambda x: WELL(x) + x[..., 1] ** 2 / 2, sigma=np.sqrt(2 * T))
    grid = fp.Grid(bounds=[(-2.5, 2.5), (-0.6, 0.6)], shape=(160, 16))
    ref = sturm_gap(fp.generator(double_well(T), fp.Grid(bounds=[(-2.5, 2.5)], shape=160)))
    assert 1e-23 < ref < 1e-19
    m = fp.modes(sde2, grid, k=1)
    assert m.method == "eigsh+reduction"
    assert m.rates[0] == pytest.approx(ref, rel=1e-6)


def test_nonreversible_reduction_agrees_with_arpack_where_both_work():
    # torus double well with circulation, drift -(I - J) grad U: at T = 0.1 the gap
    # (6e-8) is well above round-off, ARPACK is accurate, and the reduction onto the
    # two well bottoms must give the same number.
    J = np.array([[0.0, -1.0], [1.0, 0.0]])

    def grad(x):
        return np.stack([2 * np.sin(2 * x[..., 0]) + 0.3 * np.sin(x[..., 0]), np.sin(x[..., 1])], -1)

    def torus(T):
        return fp.SDE(drift=lambda x: -grad(x) @ (np.eye(2) - J).T, sigma=np.sqrt(2 * T) * np.eye(2))

    grid = fp.Grid(bounds=[(-np.pi / 2, 3 * np.pi / 2), (-np.pi, np.pi)], shape=(48, 48),
                   boundary="periodic")
    m = fp.modes(torus(0.1), grid, k=1)
    assert m.method == "eigs"
    keep = spectral._well_bottoms(fp.generator(torus(0.1), grid), grid, None)
    assert keep.size == 2
    lam, _, _ = spectral._reduced_eigenvalues(fp.generator(torus(0.1), grid), keep, grid.shape)
    slow = lam[np.argmax(np.abs(lam))]
    assert -slow.real == pytest.approx(m.rates[0], rel=1e-6)
    # T = 0.05 (barrier / T = 34): below round-off, from the reduction
    m5 = fp.modes(torus(0.05), grid, k=1)
    assert m5.method == "eigs+reduction" and 0 < m5.rates[0] < 1e-12
    assert m5.solver_error[0] < 1e-6 * m5.rates[0]


def test_uncertifiable_gap_below_roundoff_raises(monkeypatch):
    # with a single kept cell the reduction cannot separate the wells: honest error
    grid = fp.Grid(bounds=[(-3, 3)], shape=300)
    monkeypatch.setattr(spectral, "_well_bottoms", lambda A, grid, psi: np.array([100]))
    with pytest.raises(fp.ConvergenceError, match="round-off"):
        fp.spectral_gap(double_well(0.005), grid)


def test_incomplete_search_warns(monkeypatch):
    # a disk capped at 8 eigenvalues cannot reach past the frequencies of 3 modes
    monkeypatch.setattr(spectral, "_MAX_NEV", 8)
    grid = fp.Grid(bounds=[(-4.5, 4.5), (-4.5, 4.5)], shape=(32, 32))
    with pytest.warns(fp.FokkerPlanckWarning, match="complete only up to frequency"):
        m = fp.modes(OU_ROT, grid, k=3)
    assert "may be missed" in m.message and m.frequency_window < 1.5 * m.frequencies.max()


def test_escape_rate_of_the_rotating_metastable_torus_with_split_weights():
    """The slow mode of a metastable non-gradient problem is in local equilibrium inside
    the wells: the generator with the stationary density's split weights
    (``conductance="split"``) gets its rate right where Scharfetter-Gummel's is 15 % off.
    Reference 5.177e-8: the order-2 Richardson limits of all three conductances from
    128^2 and 256^2 agree to 0.2 % (sg 5.168e-8, flat 5.1767e-8, split 5.1770e-8)."""
    T = 0.1

    def drift(x):
        gx, gy = 2 * np.sin(2 * x[..., 0]) + 0.3 * np.sin(x[..., 0]), np.sin(x[..., 1])
        return -np.stack([gx + gy, gy - gx], -1)

    sde = fp.SDE(drift=drift, sigma=np.sqrt(2 * T))
    grid = fp.Grid(bounds=[(-np.pi / 2, 3 * np.pi / 2), (-np.pi, np.pi)], shape=128, boundary="periodic")
    ref = 5.177e-8
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        err = {c: abs(fp.spectral_gap(sde, grid, conductance=c) / ref - 1) for c in ("sg", "split")}
    # the split weights are not a transport error (the check reads g/s per edge)
    assert not [w for w in caught if "faster or slower" in str(w.message)], [str(w.message) for w in caught]
    # measured: sg 15 %, split 0.44 %
    assert err["split"] < 0.01 and err["sg"] > 10 * err["split"], err
    with pytest.raises(ValueError, match="conductance"):
        fp.spectral_gap(sde, grid, conductance="bernoulli")
