"""Serving the deployed pair: the MLflow pyfunc model and `alertlens serve`."""
