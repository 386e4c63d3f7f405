"""What every study shares: how its numbers are written (JSON without NaN tokens), standard errors, table cells.

Light on purpose (numpy and :mod:`mmenv.outdir` only): every command imports it at start-up.
"""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.outdir import atomic_write_text

__all__ = ["NULL_REASON", "fmt_number", "fmt_pm", "fmt_value", "json_ready", "mean_se", "write_json"]


def fmt_pm(mean: float, se: float, width: int = 7, prec: int = 2) -> str:
    """``mean ± se`` with fixed width."""
    return f"{mean:{width}.{prec}f} ± {se:<5.{prec}f}"


def fmt_number(v: Any, spec: str = ".4g") -> str:
    """``v`` formatted with ``spec``, or "undefined" when it is not a finite number (None, NaN, inf)."""
    return format(v, spec) if isinstance(v, numbers.Real) and math.isfinite(v) else "undefined"


def fmt_value(v: Any) -> str:
    """A table cell: a whole number as an integer (counts), another to 4 significant digits, "undefined"
    when it is not finite."""
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e9):
        return f"{int(v)}"
    return fmt_number(v)


def mean_se(x) -> dict[str, float]:
    """Mean, standard error (sample sd / sqrt(n); NaN below 2 values) and n of a sample, JSON-ready."""
    x = np.asarray(x, dtype=np.float64)
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    return {"mean": float(x.mean()), "se": se, "n": int(x.size)}


#: Why a value of a metrics file is null: written under the key ``_nulls`` of every file that has one.
NULL_REASON = (
    "JSON has no token for NaN or infinity: each value listed here was not finite and is written as null. "
    "NaN means undefined (a ratio with a zero or undefined base, or a statistic of an empty sample); "
    "inf and -inf an unbounded value."
)


def json_ready(obj: Any, where: str = "", nulls: dict[str, str] | None = None) -> Any:
    """``obj`` as :func:`write_json` writes it: numpy scalars and arrays as Python values, paths as strings,
    non-finite floats as None (each listed in ``nulls``, by its path ``where``, when a dict is given)."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v, f"{where}.{k}" if where else str(k), nulls) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v, f"{where}[{i}]", nulls) for i, v in enumerate(obj)]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        if math.isfinite(v):
            return v
        if nulls is not None:
            nulls[where or "."] = str(v)
        return None
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist(), where, nulls)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(obj: Any, path: Path) -> None:
    """Write JSON atomically (unique temporary file, then rename); never a NaN or Infinity token.

    Non-finite floats become null; the key ``_nulls`` lists each of them (its path, its value) with the reason
    (:data:`NULL_REASON`). ``obj`` must be a dict (a JSON object), so that the reason always has a place: a
    list of rows goes under a key (e.g. ``{"rows": [...]}``).
    """
    if not isinstance(obj, dict):
        raise TypeError(
            f"write_json writes a JSON object (a dict), got {type(obj).__name__}; put rows under a key"
        )
    nulls: dict[str, str] = {}
    clean = json_ready(obj, "", nulls)
    if nulls:
        clean["_nulls"] = {"why": NULL_REASON, "values": nulls}
    atomic_write_text(path, json.dumps(clean, indent=2, allow_nan=False) + "\n")
