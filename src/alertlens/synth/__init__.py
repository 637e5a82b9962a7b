"""The default data: a synthetic SOC alert export, generated from a seed."""
