"""The Clockwork RNN, its baselines, and their sizing.

Sizing (`sizing`, `reference` aside) is plain Python; the networks need torch, so they are imported on
first use and `cwrnn.models.sizing` can be read by the pages without loading torch.
"""

import importlib

_HOME = {
    "GRU": "baselines",
    "LSTM": "baselines",
    "SRN": "baselines",
    "ClockworkRNN": "clockwork",
    "BidirectionalModel": "bidirectional",
    "build_network": "bidirectional",
    "SequenceModel": "network",
    "ArchSpec": "sizing",
    "matched_specs": "sizing",
    "ARCHS": "sizing",
    "count_parameters": "sizing",
    "match_hidden_size": "sizing",
    "recurrent_macs": "sizing",
}
__all__ = sorted(_HOME)


def __getattr__(name):
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
