"""Alerts: the normalized schema and decision rule, readers, mapping, ingest, rendering, splits."""
