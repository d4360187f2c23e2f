"""Save / load round trips (bit for bit), headers, xarray export, bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import fokkerplanck as fp
from fokkerplanck.io import FORMAT_VERSION, info, to_xarray


def assert_same(a, b):
    """Every field equal bit for bit (arrays: same dtype, shape and bytes)."""
    assert type(a) is type(b)
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name in ("sde", "fluxes"):
            assert y is None
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape
            assert x.tobytes() == y.tobytes(), f.name
        elif isinstance(x, fp.Grid):
            assert (x.bounds, x.shape, x.boundary) == (y.bounds, y.shape, y.boundary)
        elif isinstance(x, float):
            assert type(y) is float and np.float64(x).tobytes() == np.float64(y).tobytes(), f.name
        else:
            assert type(x) is type(y) and x == y, f.name


@pytest.fixture
def stationary_2d():
    grid = fp.Grid([(-4, 4), (-2, 2)], (30, 24), boundary=["reflecting", "periodic"])
    return fp.stationary(fp.ornstein_uhlenbeck(np.diag([1.0, 4.0]), [[1, .5], [.5, 1]]), grid)


def test_stationary_round_trip(tmp_path, stationary_2d):
    path = fp.save(stationary_2d, tmp_path / "res")
    assert path.suffix == ".npz" and path.exists()
    back = fp.load(path)
    assert_same(stationary_2d, back)
    assert back.grid.boundary == (("reflecting", "reflecting"), ("periodic", "periodic"))
    meta = info(path)
    assert meta["kind"] == "StationaryResult" and meta["package_version"] == fp.__version__
    assert meta["format_version"] == FORMAT_VERSION
    assert "SDE(" in meta["not_saved"]["sde"]          # a light record of the SDE
    assert meta["fields"]["scheme"] == "str"


def test_evolution_round_trip_with_none_step(tmp_path):
    grid = fp.Grid([(0, 1)], 40, boundary=[("reflecting", "absorbing")])
    p0 = fp.gaussian(grid, mean=0.4, cov=0.01)
    for method in ("expm", "tr-bdf2"):
        ev = fp.evolve(fp.brownian(0.5), grid, p0, [0.0, 0.1, 0.2], method=method)
        back = fp.load(fp.save(ev, tmp_path / f"ev_{method}.npz", compress=True))
        assert_same(ev, back)
        assert (back.dt is None) == (method == "expm")
        assert back.grid.boundary == ((("reflecting", "absorbing"),))


def test_particles_round_trip_with_and_without_snapshots(tmp_path):
    grid = fp.Grid([(0, 1), (0, 1)], 10, boundary="absorbing")
    x0 = np.full((50, 2), 0.5)
    for save_at in (None, [0.01, 0.05]):
        pt = fp.simulate(fp.brownian(1.0, ndim=2), x0, 0.05, dt=1e-3, grid=grid, rng=1, t_eval=save_at)
        back = fp.load(fp.save(pt, tmp_path / "pt.npz"))
        assert_same(pt, back)
        assert np.isnan(back.x).any() and np.isinf(back.exit_time).any()   # NaN / inf survive


def test_quasi_stationary_and_equilibrium_round_trip(tmp_path):
    grid = fp.Grid([(0, 1)], 50, boundary="absorbing")
    q = fp.quasi_stationary(fp.brownian(1.0), grid)
    assert_same(q, fp.load(fp.save(q, tmp_path / "q")))
    e = fp.equilibrium_test(fp.stationary(fp.ornstein_uhlenbeck(1.0, 1.0), fp.Grid([(-5, 5)], 50)))
    assert_same(e, fp.load(fp.save(e, tmp_path / "e")))


def test_loaded_result_still_works_with_the_rest_of_the_api(tmp_path, stationary_2d):
    back = fp.load(fp.save(stationary_2d, tmp_path / "r"))
    np.testing.assert_array_equal(back.mean(), stationary_2d.mean())
    pt = fp.simulate(stationary_2d.sde, np.zeros((200, 2)), 0.5, dt=0.01, grid=back.grid, rng=0)
    assert fp.compare(back, pt).n == 200
    # what needs the operator says so
    with pytest.raises(ValueError, match="fp.load"):
        fp.entropy_production(back)


def test_save_load_bad_input(tmp_path):
    with pytest.raises(TypeError, match="`result`"):
        fp.save(np.ones(3), tmp_path / "x")
    with pytest.raises(TypeError, match="`result`"):
        fp.save({"density": np.ones(3)}, tmp_path / "x")
    grid = fp.Grid([(0, 1)], 10, boundary="absorbing")
    with pytest.raises(TypeError, match="`path`"):
        fp.save(fp.quasi_stationary(fp.brownian(1.0), grid), 3)
    np.savez(tmp_path / "plain.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="`path"):
        fp.load(tmp_path / "plain.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="`path"):
        fp.load(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError):
        fp.load(tmp_path / "missing.npz")
    # a file from a newer format version is refused with advice
    q = fp.quasi_stationary(fp.brownian(1.0), grid)
    path = fp.save(q, tmp_path / "q")
    with np.load(path) as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["__meta__"]))
    meta["format_version"] = FORMAT_VERSION + 1
    arrays["__meta__"] = np.asarray(json.dumps(meta))
    np.savez(tmp_path / "new.npz", **arrays)
    with pytest.raises(ValueError, match="upgrade"):
        fp.load(tmp_path / "new.npz")


def test_to_xarray(stationary_2d):
    xr = pytest.importorskip("xarray")
    ds = to_xarray(stationary_2d)
    assert isinstance(ds, xr.Dataset)
    assert ds.density.dims == ("x0", "x1")
    np.testing.assert_array_equal(ds.x0.values, stationary_2d.grid.centers[0])
    assert ds.attrs["method"] == stationary_2d.method
    grid = fp.Grid([(-3, 3)], 60)
    ev = fp.evolve(fp.ornstein_uhlenbeck(1.0, 1.0), grid, fp.gaussian(grid, 1.0, 0.1), [0, 0.5, 1.0])
    dse = to_xarray(ev)
    assert dse.density.dims == ("t", "x0") and dse.mass.shape == (3,)
    assert float(dse.density.isel(t=-1).sum() * grid.cell_volume) == pytest.approx(1.0)
    pt = fp.simulate(fp.brownian(1.0), np.zeros((10, 1)), 0.1, dt=0.01, t_eval=[0.05], rng=0)
    dsp = to_xarray(pt)
    assert dsp.x.dims == ("particle", "dim") and dsp.snapshots.shape == (1, 10, 1)
    with pytest.raises(TypeError, match="`result`"):
        to_xarray(np.ones(3))


# ------------------------------------------------- issue 16: corrupt, tampered, bombs
FileFormatError = fp.io.FileFormatError


@pytest.fixture
def saved(tmp_path):
    grid = fp.Grid([(-4, 4)], 64)
    res = fp.stationary(fp.ornstein_uhlenbeck(1.0, 1.0), grid)
    return fp.save(res, tmp_path / "ou"), res


def _rewrite(path, tmp_path, **changes):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    out = tmp_path / "tampered.npz"
    np.savez(out, **arrays)
    return out


def test_truncated_and_bit_flipped_files_raise_one_documented_error(saved, tmp_path):
    path, res = saved
    raw = path.read_bytes()
    assert issubclass(FileFormatError, ValueError)
    for cut in (0, 10, len(raw) // 3, len(raw) // 2, len(raw) - 30, len(raw) - 1):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(raw[:cut])
        with pytest.raises(FileFormatError):
            fp.load(bad)
    rng = np.random.default_rng(0)
    for k, pos in enumerate(rng.choice(len(raw), 40, replace=False)):
        flipped = bytearray(raw)
        flipped[pos] ^= 1 << int(rng.integers(8))
        bad = tmp_path / f"flip{k}.npz"
        bad.write_bytes(bytes(flipped))
        try:
            back = fp.load(bad)
        except FileFormatError:
            continue
        # a flip the archive cannot see (zip padding, an unused header byte) changes nothing
        assert back.density.tobytes() == res.density.tobytes()
    with pytest.raises(FileFormatError, match="directory"):
        fp.load(tmp_path)


@pytest.mark.parametrize("change, message", [
    (lambda d: {"density": d[:-1]}, "does not fit the grid"),
    (lambda d: {"density": np.where(np.arange(d.size) == 5, np.nan, d)}, "NaN"),
    (lambda d: {"density": d + 1j}, "not real|NaN, inf or non-float"),
    (lambda d: {"density": d.astype(str)}, "not real numbers"),
    (lambda d: {"grid.shape": np.array([-3])}, "corrupt|tampered"),
    (lambda d: {"__meta__": np.asarray("{not json")}, "corrupt"),
    (lambda d: {"__meta__": np.asarray(json.dumps({"format": "fokkerplanck-result", "format_version": 1,
                                                   "kind": "StationaryResult", "fields": {"os": "str"}}))},
     "do not belong"),
    (lambda d: {"__meta__": np.asarray(json.dumps({"format": "fokkerplanck-result", "format_version": 1,
                                                   "kind": "Pickle", "fields": {}}))}, "unknown result kind"),
])
def test_tampered_files_are_refused_on_load(saved, tmp_path, change, message):
    path, res = saved
    bad = _rewrite(path, tmp_path, **change(res.density))
    with pytest.raises(FileFormatError, match=message):
        fp.load(bad)


def test_decompression_bombs_and_lying_headers_are_refused_before_reading(saved, tmp_path):
    import tracemalloc

    path, res = saved
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["density_extra"] = np.zeros(25_000_000)     # 200 MB of zeros: ~200 KB compressed
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, **arrays)
    assert bomb.stat().st_size < 1_000_000
    tracemalloc.start()
    with pytest.raises(FileFormatError, match="max_bytes"):
        fp.load(bomb, max_bytes=50e6)
    assert tracemalloc.get_traced_memory()[1] < 20e6   # nothing was decompressed
    tracemalloc.stop()
    # a header that declares a larger array than the entry holds
    raw = bytearray(path.read_bytes())
    i = raw.find(b"'shape': (64,)")
    assert i > 0
    raw[i:i + 14] = b"'shape': (9**9"[:14].replace(b"9**9", b"6400")
    lying = tmp_path / "lying.npz"
    lying.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError):
        fp.load(lying)
