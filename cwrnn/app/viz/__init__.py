"""Clockwork Lab's figures: pure functions from data (numpy arrays, pandas frames) to plotly Figures.

Pages only call these and draw the result, so every chart is testable without a browser. The code lives
in viz_style (colours, shared helpers), viz_curves (lines and boxes), viz_maps (heatmaps), viz_sweep
(learning-rate sensitivity) and viz_ink (handwriting as pen trajectories).
"""

from .viz_curves import (
    accuracy_figure,
    downsample_epochs,
    loss_figure,
    paper_box_figure,
    probabilities_figure,
    waveform_figure,
)
from .viz_ink import emission_figure, emission_timeline_figure, ink_figure, mark_strokes, stroke_ends, stroke_paths
from .viz_maps import (
    activity_figure,
    clock_figure,
    confusion_figure,
    connectivity_figure,
    features_figure,
    weights_figure,
)
from .viz_style import ARCH_COLORS, ARCH_LABELS, ARCH_ORDER, VizInputError, arch_color, arch_label
from .viz_sweep import sensitivity_figure

__all__ = [
    "ARCH_COLORS",
    "ARCH_LABELS",
    "ARCH_ORDER",
    "VizInputError",
    "arch_color",
    "arch_label",
    "downsample_epochs",
    "loss_figure",
    "accuracy_figure",
    "waveform_figure",
    "paper_box_figure",
    "probabilities_figure",
    "activity_figure",
    "weights_figure",
    "clock_figure",
    "connectivity_figure",
    "confusion_figure",
    "features_figure",
    "sensitivity_figure",
    "ink_figure",
    "emission_figure",
    "emission_timeline_figure",
    "mark_strokes",
    "stroke_ends",
    "stroke_paths",
]
