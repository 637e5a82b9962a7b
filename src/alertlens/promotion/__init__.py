"""Promotion of a run's teacher + surrogate pair: gates against the champion, registry decisions."""
