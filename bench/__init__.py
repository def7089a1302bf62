"""Switchboard benchmarks (``make bench``): figures printed as ratios against raw Kafka, same run."""
