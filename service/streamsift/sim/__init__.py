"""The offline simulator: replays labelled streams through the same Sampler."""
