"""Numbers in error messages read as numbers: ``-1.0``, never ``np.float64(-1.0)``."""

import numpy as np
import pytest

import fokkerplanck as fp


@pytest.fixture(scope="module")
def ou():
    grid = fp.Grid([(-4, 4)], 40)
    sde = fp.ornstein_uhlenbeck(1.0, 1.0)
    return sde, grid, fp.stationary(sde, grid)


def _message(call):
    with pytest.raises(ValueError) as info:
        call()
    return str(info.value)


def test_numpy_scalars_print_plainly(ou):
    sde, grid, res = ou
    calls = {
        "-1.0": lambda: fp.equilibrium_test(res, rtol=np.float64(-1.0)),
        "inf": lambda: fp.evolve(sde, grid, res.density, [1.0], t0=np.float64(np.inf)),
        "-2.0": lambda: fp.testing.assert_density_close(res.density, res.density, grid, atol=np.float64(-2.0)),
    }
    for shown, call in calls.items():
        msg = _message(call)
        assert "np." not in msg and "float64" not in msg, msg
        assert shown in msg, msg
