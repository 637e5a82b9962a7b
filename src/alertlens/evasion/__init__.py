"""Evasion: meaning-preserving rewrites an attacker controls, by domain, and augmentation."""
