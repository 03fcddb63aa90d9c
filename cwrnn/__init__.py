"""Clockwork Lab: the Clockwork RNN (Koutnik et al., ICML 2014), its baselines, tasks and training."""
from .models import (ARCHS, LSTM, SRN, ArchSpec, ClockworkRNN, SequenceModel, count_parameters,
                     match_hidden_size, matched_specs, recurrent_macs)

__version__ = "0.1.0"
__all__ = ["ARCHS", "ArchSpec", "ClockworkRNN", "LSTM", "SRN", "SequenceModel", "count_parameters",
           "match_hidden_size", "matched_specs", "recurrent_macs"]
