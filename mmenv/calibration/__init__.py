"""Transitional: the package is its mle module while it is being split."""

import sys

from mmenv.calibration import mle as _impl

sys.modules[__name__] = _impl
