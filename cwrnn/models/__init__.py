"""The Clockwork RNN, its baselines, and their sizing."""
from .baselines import GRU, LSTM, SRN
from .bidirectional import BidirectionalModel, build_network
from .clockwork import ClockworkRNN
from .network import ArchSpec, SequenceModel, matched_specs
from .sizing import ARCHS, count_parameters, match_hidden_size, recurrent_macs

__all__ = ["ARCHS", "ArchSpec", "BidirectionalModel", "ClockworkRNN", "GRU", "LSTM", "SRN", "SequenceModel",
           "build_network", "count_parameters", "match_hidden_size", "matched_specs", "recurrent_macs"]
