"""Clockwork Lab: the Clockwork RNN (Koutnik et al., ICML 2014), its baselines, tasks and training.

The models are imported on first use, so that processes that only touch the run store (the app's
pages, spawned workers before they train) do not pay for importing torch.
"""

import importlib
import os

# MKL's conditional numerical reproducibility. Without it, MKL's batched matmul of small matrices
# rounds a network's products differently depending on how many networks are stacked with it, so a
# cell trained in seed batches would not train the whole cell's networks bit for bit. MKL reads this
# once, at its first call, hence here, before anything of ours imports torch; a user's own setting wins.
# AUTO keeps the CPU's fastest code path (training measured no slower: BENCHMARKS.md, "Seed batches").
os.environ.setdefault("MKL_CBWR", "AUTO")

__version__ = "0.1.0"
__all__ = [
    "ARCHS",
    "ArchSpec",
    "BidirectionalModel",
    "ClockworkRNN",
    "GRU",
    "LSTM",
    "SRN",
    "SequenceModel",
    "build_network",
    "count_parameters",
    "match_hidden_size",
    "matched_specs",
    "recurrent_macs",
]


def __getattr__(name):
    if name in __all__:
        return getattr(importlib.import_module(".models", __name__), name)
    raise AttributeError(f"module 'cwrnn' has no attribute {name!r}")
