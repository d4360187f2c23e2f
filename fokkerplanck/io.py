"""Save and load results: ``.npz`` files with the grid, settings and version.

:func:`save` writes a result (:class:`~fokkerplanck.StationaryResult`,
:class:`~fokkerplanck.Evolution`, :class:`~fokkerplanck.Particles`,
:class:`~fokkerplanck.QuasiStationary`, and the other frozen result classes of the
package) to one NumPy ``.npz`` archive: every array field as it is (bit for bit),
every scalar field (floats, ints, bools, strings, ``None``) with its type, the grid
(bounds, shape, per-side boundary), and a JSON header with the package version and
the format version. Nothing is pickled: files are safe to load from untrusted
sources (``allow_pickle=False``).

:func:`load` reads it back into the same class. **The SDE is not saved** — its
drift, loss and noise are Python callables — so fields that hold the SDE or the
discretization's fluxes come back as ``None`` (their ``repr`` is kept in the
header as a record: ``load(path).sde`` is ``None``; see :func:`info`). Methods that
need them, such as :meth:`StationaryResult.current`, need a fresh solve.

:func:`to_xarray` exports a result to an :class:`xarray.Dataset` with the cell
centres as coordinates (optional dependency: ``pip install xarray``).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._model.grid import Grid

__all__ = ["FORMAT_VERSION", "KINDS", "MAX_BYTES", "FileFormatError", "info", "load", "save", "to_xarray"]

#: Default cap on the bytes a file may expand to when loaded (see :func:`load`).
MAX_BYTES = 2**30


class FileFormatError(ValueError):
    """A file that :func:`load` or :func:`info` cannot accept: not written by
    :func:`save`, truncated, corrupted (a bit flipped), tampered with (fields that do not
    fit together: a density that does not match its grid, NaN or complex values where
    a density is real), from a newer format, or expanding beyond ``max_bytes``.

    A ``ValueError``, so ``except ValueError`` keeps working.

    Examples
    --------
    >>> import os, tempfile
    >>> import fokkerplanck as fp
    >>> path = os.path.join(tempfile.mkdtemp(), "junk.npz")
    >>> with open(path, "wb") as fh:
    ...     _ = fh.write(b"PK not really a zip file")
    >>> try:
    ...     fp.load(path)
    ... except fp.io.FileFormatError as err:
    ...     print("refused:", type(err).__name__)
    refused: FileFormatError
    """

#: Version of the file layout written by :func:`save`.
FORMAT_VERSION = 1

#: Result classes :func:`save` understands: class name -> defining (private) module.
KINDS = {
    "StationaryResult": "_solvers.stationary",
    "Evolution": "_solvers.evolve",
    "Particles": "_sampling.particles",
    "QuasiStationary": "_solvers.exits",
    "Equilibrium": "_solvers.irreversibility",
    "Comparison": "_sampling.compare",
    "Modes": "_solvers.spectral",
    "ExitTime": "_solvers.exits",
    "EscapeRate": "_solvers.exits",
}

#: Fields that hold callables or derived solver objects; not saved, loaded as None.
_NOT_SAVED = ("sde", "fluxes")

_MAGIC = "fokkerplanck-result"


def _version() -> str:
    from ._util.version import __version__

    return __version__


def _kind_of(result: Any) -> str:
    name = type(result).__name__
    if name not in KINDS or not dataclasses.is_dataclass(result) or \
            type(result).__module__ != f"fokkerplanck.{KINDS[name]}":
        raise TypeError(
            f"`result` must be a fokkerplanck result ({', '.join(KINDS)}), got "
            f"{type(result).__name__}. To save a bare array use numpy.save."
        )
    return name


def _encode(name: str, value: Any, arrays: dict[str, np.ndarray]) -> str:
    """Store one field; return its type tag."""
    if value is None:
        return "none"
    if isinstance(value, Grid):
        arrays[f"{name}.bounds"] = np.asarray(value.bounds, dtype=float)
        arrays[f"{name}.shape"] = np.asarray(value.shape, dtype=np.int64)
        arrays[f"{name}.boundary"] = np.asarray(value.boundary, dtype=str)
        return "grid"
    if isinstance(value, (bool, np.bool_)):
        arrays[name] = np.asarray(bool(value))
        return "bool"
    if isinstance(value, (int, np.integer)):
        arrays[name] = np.asarray(int(value), dtype=np.int64)
        return "int"
    if isinstance(value, (float, np.floating)):
        arrays[name] = np.asarray(value, dtype=np.float64)
        return "float"
    if isinstance(value, (complex, np.complexfloating)):
        arrays[name] = np.asarray(value, dtype=np.complex128)
        return "complex"
    if isinstance(value, str):
        arrays[name] = np.asarray(value, dtype=str)
        return "str"
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"field `{name}` is an object array, which cannot be saved without pickling.")
        arrays[name] = value
        return "array"
    raise TypeError(f"field `{name}` of type {type(value).__name__} cannot be saved.")


def _decode(name: str, tag: str, data: Any) -> Any:
    if tag == "none":
        return None
    if tag == "grid":
        bounds = data[f"{name}.bounds"]
        shape = tuple(int(n) for n in data[f"{name}.shape"])
        # a kind per axis where both sides agree ('periodic' is never half of a pair)
        boundary = [str(lo) if lo == hi else (str(lo), str(hi)) for lo, hi in data[f"{name}.boundary"]]
        return Grid([tuple(b) for b in bounds], shape, boundary)
    a = data[name]
    if tag == "bool":
        return bool(a)
    if tag == "int":
        return int(a)
    if tag == "float":
        return float(a)
    if tag == "complex":
        return complex(a)
    if tag == "str":
        return str(a)
    if tag == "array":
        return a
    raise FileFormatError(f"unknown field type {tag!r} for `{name}` in the file; it was written by a newer version.")


def save(result: Any, path: str | os.PathLike, *, compress: bool = False) -> Path:
    """Write a result to a ``.npz`` file.

    Parameters
    ----------
    result : StationaryResult, Evolution, Particles, QuasiStationary, ...
        A frozen result of this package (see :data:`KINDS`).
    path : str or path-like
        Destination; ``.npz`` is appended when missing (as :func:`numpy.savez` does).
    compress : bool
        Use :func:`numpy.savez_compressed` (smaller, slower; still lossless).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        ``result`` is not a result of this package; ``path`` is not a path.

    Notes
    -----
    Stored: every field as it is (arrays bit for bit; floats as float64, ints as
    int64, bools, strings, complex numbers), the grid as ``bounds``, ``shape`` and the
    per-side ``boundary``, and a JSON header (``__meta__``) with the class, the field
    types, the package version, the format version and the ``repr`` of the fields
    that are not stored (``sde``, ``fluxes``: callables cannot be saved).

    Examples
    --------
    >>> import numpy as np
    >>> import tempfile, os
    >>> import fokkerplanck as fp
    >>> grid = fp.Grid(bounds=[(-4, 4)], shape=64)
    >>> res = fp.stationary(fp.ornstein_uhlenbeck(1.0, 1.0), grid)
    >>> path = fp.save(res, os.path.join(tempfile.mkdtemp(), "ou"))
    >>> back = fp.load(path)
    >>> bool(np.array_equal(back.density, res.density)), back.sde is None, back.method
    (True, True, 'detailed_balance')
    """
    kind = _kind_of(result)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a str or path-like, got {type(path).__name__}.")
    p = Path(path)
    if p.suffix != ".npz":
        p = p.with_name(p.name + ".npz")
    arrays: dict[str, np.ndarray] = {}
    fields, dropped = {}, {}
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if f.name in _NOT_SAVED:
            dropped[f.name] = None if value is None else repr(value)
            continue
        fields[f.name] = _encode(f.name, value, arrays)
    meta = {
        "format": _MAGIC, "format_version": FORMAT_VERSION, "kind": kind,
        "module": KINDS[kind], "package_version": _version(), "fields": fields,
        "not_saved": dropped,
    }
    arrays["__meta__"] = np.asarray(json.dumps(meta))
    save: Callable[..., None] = np.savez_compressed if compress else np.savez
    save(p, **arrays)
    return p


def _check_sizes(path: str | os.PathLike, max_bytes: float) -> None:
    """Read the archive's directory and every array header (not the data): refuse a
    file that would expand beyond ``max_bytes``, or whose headers promise more data
    than the archive holds (a tampered shape would make numpy allocate it)."""
    total = 0
    with zipfile.ZipFile(path) as zf:
        for entry in zf.infolist():
            total += entry.file_size
            if total > max_bytes:
                raise FileFormatError(
                    f"`path={str(path)!r}` expands to more than `max_bytes={max_bytes:.3g}` bytes "
                    f"({entry.compress_size} compressed bytes of {entry.filename!r} expand to "
                    f"{entry.file_size}); pass a larger max_bytes if you trust the file.")
            with zf.open(entry) as fh:
                version = np.lib.format.read_magic(fh)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read(fh)
            if dtype.hasobject:
                raise FileFormatError(f"`path={str(path)!r}` holds an object array ({entry.filename!r}).")
            need = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if need > entry.file_size:
                raise FileFormatError(
                    f"`path={str(path)!r}`: the header of {entry.filename!r} declares shape {shape} "
                    f"({need} bytes) but the entry holds {entry.file_size} bytes; the file was "
                    "tampered with or is corrupt.")


def _read_meta(path: str | os.PathLike, max_bytes: float = MAX_BYTES) -> tuple[dict[str, Any], Any]:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a str or path-like, got {type(path).__name__}.")
    if os.path.isdir(path):
        raise FileFormatError(f"`path={str(path)!r}` is a directory, not a file written by fokkerplanck.save.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"`path={str(path)!r}` does not exist.")
    try:
        _check_sizes(path, max_bytes)
        data = np.load(path, allow_pickle=False)
        if not hasattr(data, "files") or "__meta__" not in data.files:
            raise FileFormatError(
                f"`path={str(path)!r}` is not a file written by fokkerplanck.save (no `__meta__` "
                "header); read plain arrays with numpy.load.")
        meta = json.loads(str(data["__meta__"]))
    except FileFormatError:
        raise
    except _CORRUPT as err:
        raise FileFormatError(
            f"`path={str(path)!r}` is not a readable file written by fokkerplanck.save: it is "
            f"truncated, corrupt or of another format ({type(err).__name__}: {err}).") from None
    if not isinstance(meta, dict) or meta.get("format") != _MAGIC:
        raise FileFormatError(f"`path={str(path)!r}` is not a file written by fokkerplanck.save.")
    try:
        version = int(meta.get("format_version", 0))
    except (TypeError, ValueError):
        raise FileFormatError(f"`path={str(path)!r}` has a malformed header (format_version).") from None
    if version > FORMAT_VERSION:
        raise FileFormatError(
            f"`path={str(path)!r}` has format version {meta['format_version']}, newer than this "
            f"fokkerplanck ({_version()}, format {FORMAT_VERSION}); upgrade the package.")
    return meta, data


#: What reading a truncated, bit-flipped or tampered archive can raise.
_CORRUPT = (ValueError, OSError, EOFError, KeyError, AttributeError, TypeError, IndexError,
            zipfile.BadZipFile, zlib.error, UnicodeDecodeError, NotImplementedError, OverflowError)


def _validate(kind: str, kwargs: dict[str, Any], path: Any) -> None:
    """Fields that must fit together: a real, finite density of its grid's shape, ..."""
    def bad(msg: str) -> FileFormatError:
        return FileFormatError(f"`path={str(path)!r}` ({kind}): {msg}; the file was tampered with or is corrupt.")

    grid = kwargs.get("grid")
    for name, value in kwargs.items():
        if not isinstance(value, np.ndarray):
            continue
        if value.dtype.kind not in "biufc" or (value.dtype.kind == "c" and name != "eigenvalues"):
            raise bad(f"field `{name}` has dtype {value.dtype}, not real numbers")
        if name in ("density", "modes"):
            if value.dtype.kind != "f" or not np.all(np.isfinite(value)):
                raise bad(f"field `{name}` holds NaN, inf or non-float values")
            if isinstance(grid, Grid):
                lead = {"density": 1 if kind == "Evolution" else 0, "modes": 1}.get(name, 0)
                if value.ndim != grid.ndim + lead or value.shape[lead:] != grid.shape:
                    raise bad(f"field `{name}` has shape {value.shape}, which does not fit the grid "
                              f"of shape {grid.shape}")
    if (kind == "Evolution" and isinstance(kwargs.get("t"), np.ndarray)
            and isinstance(kwargs.get("density"), np.ndarray)
            and kwargs["t"].shape[:1] != kwargs["density"].shape[:1]):
        raise bad(f"{kwargs['t'].shape[0]} times but {kwargs['density'].shape[0]} densities")


def info(path: str | os.PathLike) -> dict[str, Any]:
    """The header of a saved result: class, field types, versions, and the ``repr`` of
    the fields that were not saved (the SDE).

    Examples
    --------
    >>> import tempfile, os
    >>> import fokkerplanck as fp
    >>> from fokkerplanck.io import info
    >>> q = fp.quasi_stationary(fp.brownian(1.0), fp.Grid(bounds=[(0, 1)], shape=50, boundary="absorbing"))
    >>> info(fp.save(q, os.path.join(tempfile.mkdtemp(), "q")))["kind"]
    'QuasiStationary'
    """
    meta, data = _read_meta(path)
    data.close()
    return meta


def load(path: str | os.PathLike, *, max_bytes: float = MAX_BYTES) -> Any:
    """Read a result written by :func:`save`.

    Parameters
    ----------
    path : str or path-like
    max_bytes : float
        Largest number of bytes the file may expand to (default :data:`MAX_BYTES`,
        1 GiB): checked from the archive's directory and array headers before any
        data is decompressed, so a small compressed file cannot fill the memory.

    Returns
    -------
    result
        The same class as saved, with every stored field equal bit for bit. Fields
        that were not stored (``sde``, ``fluxes``) are ``None``.

    Raises
    ------
    FileNotFoundError
        No such file.
    FileFormatError
        (a ``ValueError``) Not a file written by :func:`save`; truncated, corrupt or
        tampered with (a density that does not fit its grid, NaN or complex values
        where a density is real, fields that do not belong to the class); written by a
        newer format; or expanding beyond ``max_bytes``.

    Examples
    --------
    See :func:`save`.
    """
    max_bytes = float(max_bytes)
    meta, data = _read_meta(path, max_bytes)
    with data:
        kind = meta.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            raise FileFormatError(f"`path={str(path)!r}` holds an unknown result kind {kind!r}.")
        cls = getattr(importlib.import_module(f"fokkerplanck.{KINDS[kind]}"), kind)
        names = {f.name for f in dataclasses.fields(cls)}
        fields = meta.get("fields")
        if not isinstance(fields, dict) or not set(fields) <= names:
            raise FileFormatError(
                f"`path={str(path)!r}`: the header's fields do not belong to {kind}; the file was "
                "tampered with or is corrupt.")
        try:
            kwargs = {name: _decode(name, tag, data) for name, tag in fields.items()}
        except FileFormatError:
            raise
        except _CORRUPT as err:
            raise FileFormatError(
                f"`path={str(path)!r}` is truncated, corrupt or tampered with: reading its fields "
                f"failed ({type(err).__name__}: {err}).") from None
    _validate(kind, kwargs, path)
    for f in dataclasses.fields(cls):
        if f.name not in kwargs and f.init:
            kwargs[f.name] = None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise FileFormatError(f"`path={str(path)!r}`: its fields do not make a {kind} ({err}).") from None


# ------------------------------------------------------------------- xarray
def _axis_names(grid: Grid) -> list[str]:
    return [f"x{k}" for k in range(grid.ndim)]


def _attrs(result: Any, skip: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"fokkerplanck_version": _version(), "kind": type(result).__name__}
    for f in dataclasses.fields(result):
        if f.name in skip or f.name in _NOT_SAVED:
            continue
        v = getattr(result, f.name)
        if isinstance(v, (bool, np.bool_)):
            out[f.name] = int(v)
        elif isinstance(v, (int, float, str, np.integer, np.floating)):
            out[f.name] = v
    grid = getattr(result, "grid", None)
    if isinstance(grid, Grid):
        out["bounds"] = json.dumps([list(b) for b in grid.bounds])
        out["boundary"] = json.dumps([list(b) for b in grid.boundary])
    sde = getattr(result, "sde", None)
    if sde is not None:
        out["sde"] = repr(sde)
    return out


def to_xarray(result: Any) -> Any:
    """Export a result to an :class:`xarray.Dataset` (needs ``xarray``).

    Parameters
    ----------
    result : StationaryResult, QuasiStationary, Evolution or Particles

    Returns
    -------
    xarray.Dataset
        Grid results: ``density`` on dimensions ``x0, x1, ...`` with the cell centres
        as coordinates (and ``t`` first for an :class:`Evolution`, with ``mass``).
        Particles: ``x`` on ``(particle, dim)``, ``exit_time`` and ``alive`` on
        ``particle``, and ``snapshots`` on ``(save_at, particle, dim)`` if stored.
        Scalar fields and the grid's bounds and boundaries are attributes.

    Raises
    ------
    ImportError
        xarray is not installed.
    TypeError
        Not one of the supported results.

    Examples
    --------
    >>> import fokkerplanck as fp
    >>> res = fp.stationary(fp.ornstein_uhlenbeck(1.0, 1.0), fp.Grid(bounds=[(-4, 4)], shape=64))
    >>> ds = fp.io.to_xarray(res)                     # doctest: +SKIP
    >>> float(ds.density.integrate("x0"))             # doctest: +SKIP
    1.0
    """
    try:
        import xarray as xr
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("to_xarray needs xarray: pip install xarray") from None
    kind = _kind_of(result)
    if kind in ("StationaryResult", "QuasiStationary"):
        g = result.grid
        names = _axis_names(g)
        coords: dict[str, Any] = dict(zip(names, g.centers))
        return xr.Dataset({"density": (names, result.density)}, coords=coords,
                          attrs=_attrs(result, ("density",)))
    if kind == "Evolution":
        g = result.grid
        names = _axis_names(g)
        coords = {"t": result.t, **{n: c for n, c in zip(names, g.centers)}}
        return xr.Dataset({"density": (["t", *names], result.density), "mass": ("t", result.mass)},
                          coords=coords, attrs=_attrs(result, ("density", "t", "mass")))
    if kind == "Particles":
        dims = np.arange(result.x.shape[1])
        data = {"x": (("particle", "dim"), result.x), "exit_time": ("particle", result.exit_time),
                "alive": ("particle", result.alive)}
        coords = {"particle": np.arange(result.x.shape[0]), "dim": dims}
        if result.snapshots is not None:
            data["snapshots"] = (("save_at", "particle", "dim"), result.snapshots)
            coords["save_at"] = result.save_at
        return xr.Dataset(data, coords=coords,
                          attrs=_attrs(result, ("x", "exit_time", "alive", "snapshots", "save_at")))
    raise TypeError(f"`result`: to_xarray supports StationaryResult, QuasiStationary, Evolution and Particles, not {kind}.")
