"""Bitwise identity of ``fp.generator`` across a refactoring of the discretization.

Builds the generator for every scheme x boundary x dimension x noise kind below and
either saves the CSR arrays (``--save FILE``) or compares them bitwise with a saved
file (``--compare FILE``; canonical CSR: sorted indices, explicit entries as stored).
The edge arrays of two-point schemes (tails, heads, rates, Peclet numbers, weights,
drops of ``psi``) are saved and compared too: the density split and the error estimate
read them.

    PYTHONPATH=. python benchmarks/bench_assembly_check.py --save /tmp/before.npz
    ... change the code ...
    PYTHONPATH=. python benchmarks/bench_assembly_check.py --compare /tmp/before.npz
"""

from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

import fokkerplanck as fp


def _well(x):
    return ((x**2 - 1) ** 2).sum(-1) / 4 + 0.1 * x[..., 0]


def _rot(x):
    d = x.shape[-1]
    g = x**3 - x
    r = np.zeros_like(x)
    if d >= 2:
        r[..., 0], r[..., 1] = -x[..., 1], x[..., 0]
    return -g + 0.7 * r


def _cov_state(x):
    d = x.shape[-1]
    c = np.zeros(x.shape + (d,))
    for k in range(d):
        c[..., k, k] = 1.0 + 0.3 * np.sin(x[..., k]) ** 2
    if d >= 2:
        c[..., 0, 1] = c[..., 1, 0] = 0.4 * np.cos(x[..., 0]) * 0.9
    return c


def _cov_singular(x):
    # rank-one noise along (1, 1), not along an axis: the regularized path
    d = x.shape[-1]
    v = np.ones(d) / np.sqrt(d)
    s = 1.0 + 0.2 * np.cos(x[..., 0])
    return s[..., None, None] * v[:, None] * v[None, :] * 2


def _sigma_state(x):
    d = x.shape[-1]
    s = np.zeros(x.shape + (d,))
    for k in range(d):
        s[..., k, k] = 1.0 + 0.2 * np.sin(x[..., k])
    return s


def problems(d):
    """(name, sde, schemes allowed)"""
    out = [
        ("loss-const", fp.SDE(loss=_well, sigma=1.0, ndim=d)),
        ("rot-const", fp.SDE(drift=_rot, sigma=0.8, ndim=d)),
        ("rot-state-cov", fp.SDE(drift=_rot, cov=_cov_state)),
        ("rot-state-iso", fp.SDE(drift=_rot, cov=_cov_state, convention="isothermal")),
        ("rot-strat", fp.SDE(drift=_rot, sigma=_sigma_state, convention="stratonovich")),
    ]
    if d >= 2:
        full = 0.8 * np.eye(d) + 0.5 * (np.ones((d, d)) - np.eye(d)) * 0.9
        out += [
            ("rot-fullcov", fp.SDE(drift=_rot, cov=full)),
            ("loss-fullcov", fp.SDE(loss=_well, cov=full)),
            ("loss-diagcov", fp.SDE(loss=_well, cov=np.diag(np.linspace(0.5, 1.5, d)))),
            ("singular-axis", fp.SDE(drift=_rot, cov=np.diag([0.0] + [1.0] * (d - 1)))),
            ("singular-diag", fp.SDE(drift=_rot, cov=_cov_singular)),
            ("singular-const-diag", fp.SDE(drift=_rot, cov=np.ones((d, d)))),
        ]
        M = np.diag([0.0] + [1.0] * (d - 1))
        Q = np.zeros((d, d))
        Q[0, 1], Q[1, 0] = -1.0, 1.0
        out += [
            ("kinetic", fp.SDE(loss=_well, cov=2 * 0.5 * M, mobility=M, antisymmetric=Q)),
            ("structured-full", fp.SDE(loss=_well, cov=2 * 0.5 * np.eye(d), mobility=np.eye(d),
                                       antisymmetric=0.8 * Q)),
        ]
    return out


SHAPES = {1: (37,), 2: (19, 16), 3: (9, 8, 7)}
BOUNDARIES = ("periodic", "reflecting", "absorbing", "mixed")


def cases():
    for d in (1, 2, 3):
        bounds = [(-2.0, 2.2)] * d
        for bname in BOUNDARIES:
            if bname == "mixed":
                if d == 1:
                    bound = [("absorbing", "reflecting")]
                else:
                    bound = ["periodic", ("reflecting", "absorbing")] + ["reflecting"] * (d - 2)
            else:
                bound = bname
            grid = fp.Grid(bounds=bounds, shape=SHAPES[d], boundary=bound)
            for pname, sde in problems(d):
                for scheme in fp.SCHEMES:
                    yield f"{d}d/{bname}/{pname}/{scheme}", sde, grid, scheme


def build():
    out = {}
    for key, sde, grid, scheme in cases():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fl = fp.fluxes(sde, grid, scheme=scheme)
                A = fl.matrix.tocsr()
            except Exception as err:  # noqa: BLE001
                out[key] = ("error", f"{type(err).__name__}: {err}")
                continue
        A = A.copy()
        A.sum_duplicates()
        A.sort_indices()
        out[key] = ("ok", (A.indptr.copy(), A.indices.copy(), A.data.copy(), A.shape))
        out[key + "|edges"] = ("edges", _edge_arrays(fl))
    return out


EDGE_FIELDS = ("tail", "head", "forward", "backward", "peclet", "weight")


def _edge_arrays(fl):
    """The edge arrays of two-point fluxes (empty for other kinds), as float bits."""
    arrays = {f: np.asarray(getattr(fl, f)) for f in EDGE_FIELDS if getattr(fl, f, None) is not None}
    ep = getattr(fl, "edge_potential", None)
    if ep is not None:
        arrays["dpsi"] = np.asarray(ep.dpsi)
    return {k: np.ascontiguousarray(v, dtype=np.float64 if v.dtype.kind == "f" else np.int64).view(np.int64)
            for k, v in arrays.items()}


def main(argv=None):
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save")
    g.add_argument("--compare")
    a = ap.parse_args(argv)
    res = build()
    if a.save:
        arrays = {}
        for key, (kind, val) in res.items():
            if kind == "error":
                arrays[key + "|error"] = np.array(val)
            elif kind == "edges":
                for f, v in val.items():
                    arrays[key + "|" + f] = v
            else:
                ip, ix, dv, _shape = val
                arrays[key + "|indptr"], arrays[key + "|indices"], arrays[key + "|data"] = ip, ix, dv
        np.savez_compressed(a.save, **arrays)
        ok = sum(k == "ok" for k, _ in res.values())
        cases_ = sum(k != "edges" for k, _ in res.values())
        print(f"saved {cases_} cases ({ok} matrices and their edges, {cases_ - ok} errors) to {a.save}")
        return 0
    ref = np.load(a.compare)
    bad = 0
    for key, (kind, val) in res.items():
        if kind == "error":
            same = (key + "|error") in ref and str(ref[key + "|error"]) == val
        elif kind == "edges":
            saved = {k[len(key) + 1:] for k in ref.files if k.startswith(key + "|")}
            same = saved == set(val) and all(np.array_equal(ref[key + "|" + f], v) for f, v in val.items())
        else:
            ip, ix, dv, _ = val
            same = ((key + "|indptr") in ref and np.array_equal(ref[key + "|indptr"], ip)
                    and np.array_equal(ref[key + "|indices"], ix)
                    and np.array_equal(ref[key + "|data"].view(np.int64), dv.view(np.int64)))
        if not same:
            bad += 1
            print("DIFFERENT:", key, kind, val if kind == "error" else "")
    print(f"{len(res) - bad} of {len(res)} entries identical (matrices, their edge arrays, errors)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
