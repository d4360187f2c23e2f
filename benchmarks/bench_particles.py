"""Euler–Maruyama particles vs the grid solver (issue 3 Benchmark, issue 5 benchmark (b)).

    python benchmarks/bench_particles.py            # full run, < 5 min on this machine
    python benchmarks/bench_particles.py --quick    # reduced set, < 1 min
    python benchmarks/bench_particles.py --workers 2   # particles on both cores in (b)

Prints three Markdown tables, each headed by the load average (``os.getloadavg``):

(a) **Throughput** of :func:`fokkerplanck.simulate`: particle-steps per second for
    Ornstein–Uhlenbeck ``dx = -x dt + dB`` (scalar noise) in 1-D, 2-D and 3-D, in free
    space and in the reflecting box ``[-2, 2]^d``; median of 3 runs. Beside it, the
    rate at which NumPy's default generator fills the same buffer with normals
    (``d`` normals per particle-step: the bound for any NumPy EM code).

(b) **Set-up of the time-to-L1 runs**: relaxation rates, burn-in, Euler–Maruyama bias.

(c) **Time to equal L1** on

    * 1-D double well ``U = (x^2 - 1)^2``, ``T = 0.25``, ``[-2.5, 2.5]``, 100 cells;
    * 2-D double well ``U = (x^2 - 1)^2 + y^2/2``, ``T = 0.5``, ``[-2.5, 2.5]^2``, 64^2 cells;

    both Langevin ``dx = -grad U dt + sqrt(2 T) dB`` with reflecting walls. ``L1`` is
    ``sum_b |c_b / n - h^d p_b|`` with ``p_b = exp(-U(x_b)/T) / Z`` at the cell centres
    and ``Z`` their midpoint sum (the convention of /work/shared/peers.md, fp.gibbs).

Particle protocol (chosen to favour the particles):

* start: ``n`` independent particles uniform on the box. The start is symmetric in
  ``x`` (and ``y``), so it does not excite the slow inter-well (tunnelling) mode,
  which is odd in ``x``; the slowest mode it excites has rate ``lambda_e`` (the
  slowest *even* eigenmode of the generator, from ``fp.modes`` on the same grid).
* burn-in ``t = 8 / lambda_e`` (rounded up to a multiple of 0.02); the transient
  it leaves is measured exactly with ``fp.evolve`` from the same uniform start and
  printed (it is far below every noise floor). A start that is not symmetric would
  need several ``1/lambda_1`` (tunnelling) instead: about 10-50x longer.
* ``dt``: for each ``n`` the largest of 1e-3, 2e-3, 5e-3, 1e-2, 2e-2 whose
  Euler–Maruyama bias is at most half the sampling floor at that ``n`` (1e-3 if
  none is). The EM bias is the L1 between the cell masses of the *exact stationary
  law of the reflected EM chain* and the exact Gibbs cell masses; the EM chain's
  stationary law is computed by a Nystrom discretization of its Gaussian transition
  kernel (with wall images) on a fine grid (both problems are products of 1-D
  chains: drift and noise separate in x and y). It is linear in ``dt`` as it
  should be (first weak order).
* time: the ``fp.simulate`` call only (sampling the start and histogramming are
  not counted); one run per row (median of 3 where a run is under 2 s).

Grid side: ``fp.stationary`` on the *same* cells is exact for this problem
(Scharfetter–Gummel with a potential reproduces Gibbs at the cell centres), so
the smallest grid reaching the particle L1 is the 100-cell / 64^2-cell grid
itself. Its time (assembly + solve, median of 5) is given for ``method="auto"``
(detailed balance, O(N)) and for ``method="lu"`` (the general sparse-LU path that
a non-equilibrium drift would take).

Besides the L1 against the cell-centre reference, the table gives the particle L1
against the exact *cell averages* of the Gibbs density (what a histogram estimates);
the two references differ by an O(h^2) midpoint error that is printed in (b).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
import warnings

import numpy as np

import fokkerplanck as fp
from fokkerplanck._sampling.particles import DEFAULT_CHUNK_SIZE

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import load_line, median_time  # noqa: E402

LO, HI = -2.5, 2.5
DT_CANDIDATES = (1e-3, 2e-3, 5e-3, 1e-2, 2e-2)
BURN_RELAX = 8.0  # burn-in in units of 1 / lambda_e




# ------------------------------------------------------------------ problems
def problem_1d():
    U = lambda x: (x[..., 0] ** 2 - 1.0) ** 2
    grad = lambda x: (4.0 * x[..., 0] * (x[..., 0] ** 2 - 1.0))[..., None]
    T = 0.25
    sde = fp.langevin(U, math.sqrt(2 * T), grad=grad)
    grid = fp.Grid(bounds=[(LO, HI)], shape=100, boundary="reflecting")
    # 1-D chains (drift, temperature, potential) of which the problem is the product
    chains = [(lambda x: -4.0 * x * (x**2 - 1.0), T, lambda x: (x**2 - 1.0) ** 2)]
    return dict(name="1-D double well, T=0.25, 100 cells", short="1-D", U=U, T=T, sde=sde,
                grid=grid, chains=chains, nbins=100)


def problem_2d():
    U = lambda x: (x[..., 0] ** 2 - 1.0) ** 2 + 0.5 * x[..., 1] ** 2
    grad = lambda x: np.stack([4.0 * x[..., 0] * (x[..., 0] ** 2 - 1.0), x[..., 1]], axis=-1)
    T = 0.5
    sde = fp.langevin(U, math.sqrt(2 * T), grad=grad)
    grid = fp.Grid(bounds=[(LO, HI)] * 2, shape=64, boundary="reflecting")
    chains = [(lambda x: -4.0 * x * (x**2 - 1.0), T, lambda x: (x**2 - 1.0) ** 2),
              (lambda y: -y, T, lambda y: 0.5 * y**2)]
    return dict(name="2-D double well, T=0.5, 64^2 cells", short="2-D", U=U, T=T, sde=sde,
                grid=grid, chains=chains, nbins=64)


# ------------------------------------------------- exact EM and Gibbs cell masses
def em_stationary_1d(mu, sigma, dt, nbins, lo=LO, hi=HI):
    """Cell masses of the stationary law of ``x' = fold(x + mu(x) dt + sigma sqrt(dt) Z)``.

    Nystrom on ``M = r * nbins`` fine midpoint nodes (``r`` such that the kernel width
    ``sigma sqrt(dt)`` spans >= 5 nodes): ``p(y_j) = sum_i h K(y_j | x_i) p(x_i)`` with
    the reflected Gaussian kernel (images in both walls); the columns are renormalised
    to sum 1 and the null vector of ``K - I`` is found with one pinned sparse solve.
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    s = sigma * math.sqrt(dt)
    L = hi - lo
    r = max(8, int(math.ceil(5.0 * (L / nbins) / s)))
    M = nbins * r
    h = L / M
    x = lo + (np.arange(M) + 0.5) * h
    m = x + mu(x) * dt
    blocks = []
    for i0 in range(0, M, 256):
        mi = m[i0:i0 + 256, None]
        y = x[None, :]
        f = np.zeros((mi.shape[0], M))
        for k in (-1, 0, 1):
            f += np.exp(-0.5 * ((y + 2 * k * L - mi) / s) ** 2)
            f += np.exp(-0.5 * ((2 * lo - y + 2 * k * L - mi) / s) ** 2)
        f[f < 1e-300] = 0.0
        blocks.append(sp.csr_matrix(f))
    K = sp.vstack(blocks).T.tocsr()  # K[j, i]: from node i to node j
    K = K @ sp.diags(1.0 / np.asarray(K.sum(axis=0)).ravel())
    A = (K - sp.identity(M)).tocsr()
    k0 = int(np.argmin(np.abs(mu(x))[M // 4:3 * M // 4])) + M // 4  # a well bottom / the centre
    keep = np.ones(M, bool)
    keep[k0] = False
    Ak = A[keep]
    p = np.empty(M)
    p[k0] = 1.0
    p[keep] = spla.spsolve(Ak[:, keep].tocsc(), -Ak[:, [k0]].toarray().ravel())
    p = np.clip(p, 0.0, None)
    p /= p.sum()
    return p.reshape(nbins, r).sum(axis=1)


def gibbs_cells_1d(U, T, nbins, r=64, lo=LO, hi=HI):
    """Exact Gibbs cell masses (midpoint rule on r sub-cells per cell: O((h/r)^2))."""
    M = nbins * r
    x = lo + (np.arange(M) + 0.5) * (hi - lo) / M
    u = U(x)
    w = np.exp(-(u - u.min()) / T)
    return (w / w.sum()).reshape(nbins, r).sum(axis=1)


def outer_all(factors):
    out = factors[0]
    for f in factors[1:]:
        out = np.multiply.outer(out, f)
    return out


def em_bias(prob, dt, cache):
    """L1 between the EM stationary cell masses and the exact Gibbs cell masses."""
    key = (prob["short"], dt)
    if key not in cache:
        em = [em_stationary_1d(mu, math.sqrt(2 * T), dt, prob["nbins"]) for mu, T, _ in prob["chains"]]
        cache[key] = float(np.abs(outer_all(em) - prob["cell_avg"]).sum())
    return cache[key]


# ---------------------------------------------------------------- (a) throughput
def throughput(quick: bool, workers_list):
    n = 2**16 if quick else 2**17
    steps = 50 if quick else 100
    dt = 0.01
    repeats = 1 if quick else 3
    rows = []
    for d in (1, 2, 3):
        sde = fp.ornstein_uhlenbeck(np.eye(d), 1.0)
        x0 = np.zeros((n, d))
        # normals: the same buffer size as simulate's chunks, filled n*steps*d times
        rng = np.random.default_rng(0)
        buf = np.empty((DEFAULT_CHUNK_SIZE, d))
        reps = n * steps // DEFAULT_CHUNK_SIZE

        def normals():
            for _ in range(reps):
                rng.standard_normal(out=buf)

        t_norm, _, _ = median_time(normals, repeats)
        normal_rate = reps * buf.size / t_norm
        for box in (False, True):
            grid = fp.Grid(bounds=[(-2.0, 2.0)] * d, shape=[8] * d, boundary="reflecting") if box else None
            for w in workers_list:
                t, nrun, _ = median_time(
                    lambda: fp.simulate(sde, x0, steps * dt, dt=dt, grid=grid, rng=1, workers=w),
                    repeats, cheap=30.0)
                rows.append((d, "reflecting box [-2,2]^d" if box else "free space", w, n, steps,
                             t, nrun, n * steps / t, normal_rate / d))
    return rows


def print_throughput(rows, load):
    print("### (a) fp.simulate throughput: OU dx = -x dt + dB, scalar noise\n")
    print(load + "\n")
    print("| d | domain | workers | particles | steps | time (s) | particle-steps/s | normals-only bound (normals/s / d) | 2-D target 3e7/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d, dom, w, n, steps, t, nrun, rate, bound in rows:
        tgt = "" if d != 2 else ("met" if rate >= 3e7 else f"missed ({3e7 / rate:.2f}x short)")
        print(f"| {d} | {dom} | {w} | {n} | {steps} | {t:.3f} ({'median of ' + str(nrun) if nrun > 1 else '1 run'}) "
              f"| {rate:.3g} | {bound:.3g} | {tgt} |")
    print()


# ------------------------------------------------------------- (b)+(c) time to L1
def setup(prob):
    grid = prob["grid"]
    gib = fp.gibbs(grid, prob["U"], prob["T"])
    prob["gibbs"] = gib
    prob["cell_avg"] = outer_all([gibbs_cells_1d(Uc, T, prob["nbins"]) for _, T, Uc in prob["chains"]])
    prob["ref_mismatch"] = float(np.abs(prob["cell_avg"] - gib * grid.cell_volume).sum())
    # relaxation rates and parity of the modes
    md = fp.modes(prob["sde"], grid, k=8)
    lam1 = float(md.rates[0])
    lam_e = None
    for rate, v in zip(md.rates, md.modes):
        v = np.asarray(v).reshape(grid.shape)
        even = all(np.abs(v - np.flip(v, axis=a)).max() <= 1e-6 * np.abs(v).max() for a in range(grid.ndim))
        if even:
            lam_e = float(rate)
            break
    if lam_e is None:  # pragma: no cover - not for these problems
        lam_e = lam1
    prob["lam1"], prob["lam_e"] = lam1, lam_e
    prob["t_burn"] = math.ceil(BURN_RELAX / lam_e / 0.02 - 1e-9) * 0.02
    ev = fp.evolve(prob["sde"], grid, fp.uniform(grid), [0.0, prob["t_burn"]], method="expm")
    prob["transient"] = float(grid.integrate(np.abs(ev.density[-1] - gib)))


def noise_floor(prob, n):
    P = (prob["gibbs"] * prob["grid"].cell_volume).ravel()
    return math.sqrt(2.0 / (math.pi * n)) * float(np.sqrt(P * np.clip(1 - P, 0, None)).sum())


def choose_dt(prob, n, cache):
    floor = noise_floor(prob, n)
    best = DT_CANDIDATES[0]
    for dt in DT_CANDIDATES:
        if em_bias(prob, dt, cache) <= 0.5 * floor:
            best = dt
    return best


def grid_times(prob):
    out = {}
    for method in ("auto", "lu"):
        t, _, res = median_time(lambda: fp.stationary(prob["sde"], prob["grid"], method=method), 5, cheap=5.0)
        l1 = float(prob["grid"].integrate(np.abs(res.density - prob["gibbs"])))
        out[method] = (t, l1, res.method)
    return out


def particle_run(prob, n, dt, seed, workers):
    grid = prob["grid"]
    d = grid.ndim
    x0 = np.random.default_rng(seed).uniform(LO, HI, size=(n, d))

    def run():
        return fp.simulate(prob["sde"], x0, prob["t_burn"], dt=dt, grid=grid, rng=seed + 1, workers=workers)

    t, nrun, pt = median_time(run, 3, cheap=2.0)
    cmp = fp.compare(prob["gibbs"], pt, grid=grid)
    hist_mass = cmp.histogram * grid.cell_volume
    l1_avg = float(np.abs(hist_mass - prob["cell_avg"]).sum())
    return dict(time=t, nrun=nrun, steps=pt.n_steps, l1=cmp.l1, floor=cmp.noise_floor, l1_avg=l1_avg,
                chi2p=cmp.chi2_pvalue, consistent=cmp.consistent)


def print_setup(probs, cache, counts):
    print("### (b) Set-up of the time-to-L1 runs\n")
    print("| problem | lambda_1 (tunnelling, odd in x) | lambda_e (slowest mode the uniform start excites) | burn-in t | transient L1 left at t (exact, fp.evolve) | EM bias L1 at dt = " + ", ".join(f"{d:g}" for d in DT_CANDIDATES) + " | noise floor at n = " + ", ".join(f"{n:.0e}" for n in counts) + " | cell-centre vs cell-average reference L1 |")
    print("|---|---|---|---|---|---|---|---|")
    for p in probs:
        biases = ", ".join(f"{em_bias(p, dt, cache):.2e}" for dt in DT_CANDIDATES)
        floors = ", ".join(f"{noise_floor(p, n):.2e}" for n in counts)
        print(f"| {p['name']} | {p['lam1']:.4f} (1/lambda = {1 / p['lam1']:.1f}) | {p['lam_e']:.4f} | "
              f"{p['t_burn']:.2f} = {p['t_burn'] * p['lam_e']:.1f}/lambda_e | {p['transient']:.1e} | {biases} | {floors} | "
              f"{p['ref_mismatch']:.2e} |")
    print()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="reduced set (< 1 min)")
    ap.add_argument("--workers", type=int, default=1, help="threads for fp.simulate in (c) (default 1)")
    ap.add_argument("--seed", type=int, default=20261126)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", fp.FokkerPlanckWarning)
    t_start = time.perf_counter()

    print(f"# bench_particles ({'quick' if args.quick else 'full'}) — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}\n")

    # (a)
    load = load_line()
    rows = throughput(args.quick, (1,) if args.quick else (1, 2))
    print_throughput(rows, load)

    # (b)
    probs = [problem_1d(), problem_2d()]
    counts = (10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000)
    cache: dict = {}
    for p in probs:
        setup(p)
    print_setup(probs, cache, counts)

    # (c)
    load = load_line()
    results = []
    for p in probs:
        g = grid_times(p)
        for n in counts:
            dt = choose_dt(p, n, cache)
            r = particle_run(p, n, dt, args.seed + n, args.workers)
            results.append((p, n, dt, r, g))
            print(f"  [{time.perf_counter() - t_start:6.1f} s] {p['short']} n={n} dt={dt:g}: {r['time']:.2f} s, "
                  f"L1 {r['l1']:.3e} (floor {r['floor']:.3e})", file=sys.stderr, flush=True)
    print(f"### (c) Time to equal L1: Euler–Maruyama particles (workers={args.workers}) vs fp.stationary on the same cells\n")
    print(load + "\n")
    print("| problem | particles n | dt | steps | particle time (s) | L1 | noise floor | L1 vs cell averages | chi2 p | grid cells | grid time auto / lu (ms) | grid L1 auto / lu | speed ratio auto / lu | target >= 1000x |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p, n, dt, r, g in results:
        ta, l1a, ma = g["auto"]
        tl, l1l, _ = g["lu"]
        ratio_a, ratio_l = r["time"] / ta, r["time"] / tl
        def verdict(ratio, l1g):
            if l1g > r["l1"]:
                return "grid L1 too large"
            return "met" if ratio >= 1000 else f"missed ({1000 / ratio:.1f}x short)"
        ok = f"auto {verdict(ratio_a, l1a)} / lu {verdict(ratio_l, l1l)}"
        runs = "" if r["nrun"] == 1 else f" (median of {r['nrun']})"
        print(f"| {p['short']} | {n:.0e} | {dt:g} | {r['steps']} | {r['time']:.2f}{runs} | {r['l1']:.2e} | {r['floor']:.2e} | "
              f"{r['l1_avg']:.2e} | {r['chi2p']:.2g} | {p['grid'].size} | {ta * 1e3:.2f} ({ma}) / {tl * 1e3:.2f} | "
              f"{l1a:.1e} / {l1l:.1e} | {ratio_a:.2e} / {ratio_l:.2e} | {ok} |")
    print(f"\nTotal wall time {time.perf_counter() - t_start:.0f} s; {load_line()}")


if __name__ == "__main__":
    main()
