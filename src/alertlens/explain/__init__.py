"""Explanations: per-alert reasons from TreeSHAP over the surrogate, worded for an analyst,
with the fewest field changes that flip the verdict."""
