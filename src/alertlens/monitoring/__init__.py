"""Monitoring the deployed pair: drift of new alert exports against its training data."""
