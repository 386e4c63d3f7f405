"""Order-book signals of a tape, computed causally (row i from events 0..i): the touch imbalance, the
micro-price of Stoikov 2018, order-flow imbalance, trade-sign flow, spread and time since the mid moved
(:mod:`mmenv.signals.features`); their predictive power in and out of sample and the markout of fills by
signal bucket (:mod:`mmenv.signals.predictive`)."""

from mmenv.signals.features import FeatureSpec, compute_features, feature_names
from mmenv.signals.microprice import MicroPriceTable, fit_microprice

__all__ = ["FeatureSpec", "MicroPriceTable", "compute_features", "feature_names", "fit_microprice"]
