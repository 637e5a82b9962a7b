"""Hyperparameter search with Optuna: spaces from conf/tune, studies, reports (`alertlens tune`)."""
