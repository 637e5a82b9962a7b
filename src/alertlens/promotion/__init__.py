"""Promotion of a run's teacher + surrogate pair: scorecards, gates, registry decisions."""
