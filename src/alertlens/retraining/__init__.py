"""Scheduled retraining: add a new alert export to the data, rerun the pipeline, let the gates
decide, safely under cron."""
