"""Speaker labels ("who spoke when"), offline, on a CPU, without PyTorch.

weights (Resemblyzer's checkpoint read by a restricted unpickler) ▸ features
(mel frames) ▸ encoder (the LSTM in numpy) ▸ windows (speech regions cut
into overlapping windows) ▸ clustering (how many voices, which window is
whose) ▸ labelling (each word takes its windows' majority) ▸ runner (all of
it in a worker process; a failure leaves the transcript as it was).
"""
