"""Progress bars for long loops (evolve, simulate, sweep)."""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


def progress_bar(total: int, enabled: bool, desc: str, unit: str = "step") -> Any:
    """A tqdm bar (``None`` when not ``enabled``)."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a runtime dependency
        raise ImportError("`progress=True` needs tqdm: pip install tqdm") from None
    return tqdm(total=total, desc=desc, unit=unit)
