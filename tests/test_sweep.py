"""fp.sweep: the same sweep serially, on threads, on processes and on a Dask
LocalCluster gives identical arrays; failures name their parameter set."""

import faulthandler
import importlib
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import fokkerplanck as fp
from fokkerplanck._sweep import SweepError, SweepResult, expand

# A real sweep: stationary densities of the 2-D double well U = (x^2 - 1)^2 + y^2/2
# over temperatures, without (Langevin: detailed balance, no linear solve) and with a
# rotational drift -(I - a J) grad U (sparse LU). The SDE is built inside the function
# from plain numbers, and the function is module-level: picklable by reference.
TEMPERATURES = [0.3, 0.45, 0.6]
ROTATIONS = [0.0, 0.5]
N = 64


def _well(x):
    return (x[..., 0] ** 2 - 1) ** 2 + x[..., 1] ** 2 / 2


def _grad_well(x):
    return np.stack([4 * x[..., 0] * (x[..., 0] ** 2 - 1), x[..., 1]], axis=-1)


def stationary_density(temperature, a=0.0, n=N):
    grid = fp.Grid(bounds=[(-2.5, 2.5), (-4.5, 4.5)], shape=n)
    sigma = np.sqrt(2 * temperature)
    if a == 0:
        sde = fp.langevin(_well, sigma=sigma, grad=_grad_well)
    else:
        def rotation(x):  # a J grad U, J = [[0, -1], [1, 0]]
            g = _grad_well(x)
            return a * np.stack([-g[..., 1], g[..., 0]], axis=-1)

        sde = fp.SDE(loss=_well, grad=_grad_well, drift=rotation, sigma=sigma)
    return fp.stationary(sde, grid).density


def stationary_result(temperature):
    """Returns the whole StationaryResult, whose SDE holds a lambda: not picklable."""
    grid = fp.Grid(bounds=[(-5, 5)], shape=32)
    return fp.stationary(fp.langevin(lambda x: x[..., 0] ** 2 / 2, sigma=np.sqrt(2 * temperature)), grid)


def raise_unpicklable(k):
    raise fp.ConvergenceError(f"did not converge at k={k}", result=lambda: k)


def noisy_mean(loc, rng):
    return float(rng.normal(loc, 1.0, size=1000).mean())


def slow(k, seconds=0.5):
    time.sleep(seconds)
    return k


def worker_pid(k):
    time.sleep(0.2)
    return os.getpid()


PARAMS = {"temperature": TEMPERATURES, "a": ROTATIONS}


@pytest.fixture(scope="module")
def serial():
    return fp.sweep(stationary_density, PARAMS)


@pytest.fixture(scope="module")
def process_pool():
    # spawn: nothing inherited from the test process, as on a cluster (and no
    # fork-after-threads hazards)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        yield ex


def assert_identical(res, ref):
    assert isinstance(res, SweepResult)
    assert res.params == ref.params
    assert res.shape == ref.shape
    assert res.success
    for a, b in zip(res.results, ref.results):
        np.testing.assert_array_equal(a, b)  # exact, not approximate


# ------------------------------------------------------------------ serial
def test_serial_is_the_plain_loop_in_product_order(serial):
    assert serial.shape == (3, 2)
    assert serial.executor == "serial"
    assert [tuple(p.values()) for p in serial.params] == [(t, a) for t in TEMPERATURES for a in ROTATIONS]
    for p, p_density in zip(serial.params, serial):
        np.testing.assert_array_equal(p_density, stationary_density(**p))
    stacked = serial.stack()
    assert stacked.shape == (3, 2, N, N)
    grid = fp.Grid(bounds=[(-2.5, 2.5), (-4.5, 4.5)], shape=N)
    np.testing.assert_allclose(stacked.sum(axis=(2, 3)) * grid.cell_volume, 1.0, rtol=1e-12)
    # the rotation leaves the Gibbs density stationary: without it the grid reproduces Gibbs
    # to round-off (loss differences), with it to the scheme's O(h^2) (measured L1 5.2e-3,
    # 3.4e-3, 2.6e-3 at these temperatures; the bound leaves a factor 2)
    gibbs = np.stack([fp.gibbs(grid, _well, T) for T in TEMPERATURES])
    l1 = np.abs(stacked - gibbs[:, None]).sum(axis=(2, 3)) * grid.cell_volume
    assert np.all(l1[:, 0] < 1e-12), l1
    assert np.all(l1[:, 1] < 1.1e-2), l1
    assert np.all(serial.seconds > 0) and serial.wall_seconds >= serial.seconds.sum() * 0.5


# ------------------------------------------------------- executors == serial
def test_threads_equal_serial(serial):
    with ThreadPoolExecutor(2) as ex:
        res = fp.sweep(stationary_density, PARAMS, executor=ex, timeout=60)
    assert res.executor == "ThreadPoolExecutor"
    assert_identical(res, serial)


def test_processes_equal_serial(serial, process_pool):
    res = fp.sweep(stationary_density, PARAMS, executor=process_pool, timeout=60)
    assert res.executor == "ProcessPoolExecutor"
    assert_identical(res, serial)


def test_dask_local_cluster_equals_serial(serial):
    distributed = pytest.importorskip("dask.distributed")
    # a watchdog: if the cluster ever hangs (start-up, shutdown), fail loudly instead of
    # blocking CI; the sweeps themselves have `timeout=`
    faulthandler.dump_traceback_later(180, exit=True)
    try:
        _dask_sweeps(distributed, serial)
    finally:
        faulthandler.cancel_dump_traceback_later()


def _dask_sweeps(distributed, serial):
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=40,
    ) as cluster, distributed.Client(cluster, timeout="30s") as client:
        res = fp.sweep(stationary_density, PARAMS, executor=client.get_executor(), timeout=60)
        assert_identical(res, serial)
        # the client itself works too, and errors come back naming the parameter set
        res = fp.sweep(stationary_density, PARAMS, executor=client, timeout=60)
        assert_identical(res, serial)
        with pytest.raises(SweepError, match=r"Parameter set 1 \{'temperature': 0"):
            fp.sweep(stationary_density, {"temperature": [0.3, 0.0]}, executor=client, timeout=60)
        # the calls really ran in the two worker processes
        pids = fp.sweep(worker_pid, {"k": range(6)}, executor=client, timeout=60).results
        assert len(set(pids)) == 2 and os.getpid() not in pids
    assert cluster.status.name == "closed"


# ------------------------------------------------------------------ errors
def test_failure_names_the_parameter_set_serially():
    with pytest.raises(SweepError, match=r"Parameter set 2 \{'temperature': 0.0\} failed: ValueError") as info:
        fp.sweep(stationary_density, [{"temperature": 0.3}, {"temperature": 0.6}, {"temperature": 0.0}])
    assert info.value.index == 2 and info.value.params == {"temperature": 0.0}
    assert isinstance(info.value.__cause__, ValueError)
    assert "sigma" in str(info.value.__cause__)


def test_failure_in_a_process_carries_the_remote_traceback(process_pool):
    with pytest.raises(SweepError, match=r"Parameter set 1 \{'temperature': 0.0\}") as info:
        fp.sweep(stationary_density, {"temperature": [0.3, 0.0, 0.6]}, executor=process_pool, timeout=60)
    cause = info.value.__cause__
    assert isinstance(cause, ValueError)
    assert "stationary_density" in str(cause.__cause__)  # the worker's traceback


def test_collect_keeps_the_others(serial, process_pool):
    params = [{"temperature": 0.3}, {"temperature": 0.0}, {"temperature": 0.6}]
    for ex in (None, process_pool):
        res = fp.sweep(stationary_density, params, executor=ex, errors="collect", timeout=60)
        assert not res.success and list(res.errors) == [1]
        assert isinstance(res.errors[1], ValueError) and res[1] is None
        np.testing.assert_array_equal(res[0], serial.results[0])  # T = 0.3, a = 0
        np.testing.assert_array_equal(res[2], serial.results[4])  # T = 0.6, a = 0
        table = res.table()
        assert table["error"][0] is None and table["error"][1].startswith("ValueError")
        with pytest.raises(ValueError, match="failed"):
            res.stack()


def test_unpicklable_fn_is_refused_before_submitting():
    with ProcessPoolExecutor(1) as ex, pytest.raises(TypeError, match="module-level function"):
        fp.sweep(lambda temperature: temperature, {"temperature": [1.0]}, executor=ex)


def test_unpicklable_result_explains_the_idiom(process_pool):
    with pytest.raises(SweepError, match=r"return arrays or numbers"):
        fp.sweep(stationary_result, {"temperature": [0.5]}, executor=process_pool, timeout=60)
    # the same function is fine serially or on threads
    assert fp.sweep(stationary_result, {"temperature": [0.5]})[0].success


def test_unpicklable_exception_still_comes_back(process_pool):
    res = fp.sweep(raise_unpicklable, {"k": [1, 2]}, executor=process_pool, errors="collect", timeout=60)
    assert list(res.errors) == [0, 1]
    assert isinstance(res.errors[0], RuntimeError)
    assert "ConvergenceError: did not converge at k=1" in str(res.errors[0])
    # serially the original exception, result included
    res = fp.sweep(raise_unpicklable, {"k": [1]}, errors="collect")
    assert isinstance(res.errors[0], fp.ConvergenceError) and res.errors[0].result() == 1


def test_timeout_cancels_the_rest():
    with ThreadPoolExecutor(1) as ex:
        t0 = time.perf_counter()
        with pytest.raises(TimeoutError, match="timeout=0.2"):
            fp.sweep(slow, {"k": [1, 2, 3, 4], "seconds": [1.0]}, executor=ex, timeout=0.2)
        assert time.perf_counter() - t0 < 0.9  # did not wait for the running call
    with pytest.raises(TimeoutError):
        fp.sweep(slow, {"k": [1, 2, 3], "seconds": [0.3]}, timeout=0.2)  # serial: checked between calls


# ------------------------------------------------------------- randomness
def test_rng_gives_the_same_streams_everywhere(process_pool):
    params = {"loc": [0.0, 0.0, 1.0]}
    ref = fp.sweep(noisy_mean, params, rng=7)
    assert ref[0] != ref[1]  # independent streams per parameter set
    assert fp.sweep(noisy_mean, params, rng=7).results == ref.results
    with ThreadPoolExecutor(3) as ex:
        assert fp.sweep(noisy_mean, params, rng=7, executor=ex).results == ref.results
    assert fp.sweep(noisy_mean, params, rng=7, executor=process_pool, timeout=60).results == ref.results
    with pytest.raises(ValueError, match="already has an `rng`"):
        fp.sweep(noisy_mean, [{"loc": 0.0, "rng": 1}], rng=7)


# ------------------------------------------------------------- parameters
def test_expand_product_order_and_shape():
    sets, shape = expand({"T": [0.5, 1.0], "n": np.array([32, 64, 128])})
    assert shape == (2, 3)
    assert sets[:4] == [{"T": 0.5, "n": 32}, {"T": 0.5, "n": 64}, {"T": 0.5, "n": 128}, {"T": 1.0, "n": 32}]
    assert type(sets[0]["n"]) is int  # arrays become plain Python numbers
    sets, shape = expand(({"T": t} for t in (1, 2)))
    assert sets == [{"T": 1}, {"T": 2}] and shape == (2,)
    assert expand({"T": [1, 2], "n": []}) == ([], (2, 0))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"T": 0.5}, r"T=\[0.5\]"),
        ({"name": "sg"}, r"name=\['sg'\]"),
        ([{"T": 1}, 2], r"`params\[1\]` is int"),
        (3.0, "list of dicts"),
        ({1: [2]}, "must be strings"),
    ],
)
def test_expand_refuses_ambiguous_input(params, match):
    with pytest.raises(TypeError, match=match):
        expand(params)


def test_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        fp.sweep(3, [{}])
    with pytest.raises(ValueError, match="`errors` must be one of"):
        fp.sweep(slow, [{"k": 1}], errors="ignore")
    with pytest.raises(TypeError, match="`executor` must be"):
        fp.sweep(slow, [{"k": 1}], executor="processes")
    with pytest.raises(SweepError, match="unexpected keyword"):  # a typo in a parameter name
        fp.sweep(stationary_density, [{"temprature": 0.3}])
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="`timeout`"):
            fp.sweep(slow, [{"k": 1}], timeout=bad)
    with pytest.raises(TypeError, match="`timeout`"):
        fp.sweep(slow, [{"k": 1}], timeout=[60])


# ------------------------------------------------------------------ result
def test_table_and_empty_sweep():
    def summary(T, n):
        return {"T2": T * 2, "size": n * n, "vector": np.zeros(3)}

    res = fp.sweep(summary, {"T": [0.5, 1.0], "n": [4]})
    table = res.table()
    assert table["T"] == [0.5, 1.0] and table["T2"] == [1.0, 2.0] and table["size"] == [16, 16]
    assert "vector" not in table and "error" not in table and len(table["seconds"]) == 2
    assert res.stack("T2").tolist() == [[1.0], [2.0]]
    assert fp.sweep(lambda T: T, {"T": np.array([1.0, 2.0])}).table()["result"] == [1.0, 2.0]
    empty = fp.sweep(slow, [])
    assert len(empty) == 0 and empty.success and empty.stack().shape == (0,)
    assert "n=0" in repr(empty)


def test_progress_bar(capsys):
    res = fp.sweep(lambda T: T, {"T": [1, 2, 3]}, progress=True)
    assert res.results == (1, 2, 3)
    assert "3/3" in capsys.readouterr().err


def test_sweep_is_the_function_and_its_classes_are_exported():
    """`fp.sweep` is the function defined in the private module `fokkerplanck._sweep`."""
    assert importlib.import_module("fokkerplanck._sweep").sweep is fp.sweep
    assert fp.sweep(lambda T: T, {"T": [1]}).results == (1,)
    assert fp.sweep(lambda T: T, {"T": [2]}).results == (2,)
    assert fp.SweepError is SweepError and fp.SweepResult is SweepResult


def test_the_error_estimates_partner_warnings_stay_held_on_threads():
    # estimate_error held its partner grid's warnings back with warnings.catch_warnings,
    # which swaps the process-wide filters: when one thread's estimate ended while
    # another's partner solve ran, the second one's warnings got through (seen in this
    # file's thread-pool test). Forced here: thread B's partner solve warns after thread
    # A's estimate has ended. The package's warnings are now held per thread.
    import threading
    import warnings

    sde = fp.ornstein_uhlenbeck(1.0, 0.08 * np.sqrt(2))
    grid, coarse = fp.Grid(bounds=[(-1, 1)], shape=40), fp.Grid(bounds=[(-1, 1)], shape=20)

    def solve(g, warns):
        if g.shape != grid.shape:   # the partner grid
            both_inside.wait()
            if warns:
                assert a_done.wait(30)
                fp.stationary(sde, coarse, error_estimate=False)   # a ResolutionWarning (20 cells)
        return fp.stationary(sde, g, error_estimate=False).density

    both_inside, a_done = threading.Barrier(2, timeout=30), threading.Event()

    def a():
        fp.estimate_error(lambda g: solve(g, False), grid)
        a_done.set()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ThreadPoolExecutor(2) as pool:
            first, second = pool.submit(a), pool.submit(fp.estimate_error, lambda g: solve(g, True), grid)
            first.result(), second.result()
    assert caught == []
    with warnings.catch_warnings(record=True) as direct:   # (the 20-cell grid does warn)
        warnings.simplefilter("always")
        fp.stationary(sde, coarse, error_estimate=False)
    assert [w.category for w in direct] == [fp.ResolutionWarning]
