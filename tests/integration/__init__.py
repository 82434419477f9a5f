"""Tier-3 tests: a real Kafka broker (marker ``kafka``), unique topic names."""
