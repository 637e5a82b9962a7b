"""Batch scoring of an export with the pair: in one process, or on Spark."""
