"""Transitional: the package is its yahoo module while it is being split."""

import sys

from mmenv.data import yahoo as _impl

sys.modules[__name__] = _impl
