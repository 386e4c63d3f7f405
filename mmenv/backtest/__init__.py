"""Transitional: the package is its kernel module while it is being split."""

import sys

from mmenv.backtest import kernel as _impl

sys.modules[__name__] = _impl
