"""alertlens: explainable triage of security alerts."""

__version__ = "0.1.0"
