"""Plots for run folders: every picture a run writes comes from here (headless Agg backend)."""

from .plots import confusion_matrix_plot, curves, history_curves, image_grid, new_figure, save

__all__ = ["confusion_matrix_plot", "curves", "history_curves", "image_grid", "new_figure", "save"]
