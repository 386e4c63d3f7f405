"""Figures and pages: :mod:`~mmenv.viz.style` (the one figure style, atomic saves), :mod:`~mmenv.viz.plots`
(figures of records and analytics) and :mod:`~mmenv.viz.html` (markdown to one offline HTML page).
Submodules load on first use (``import mmenv.viz`` does not import matplotlib).
"""
