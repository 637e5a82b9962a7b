"""Assessing a teacher + surrogate pair: fidelity, faithfulness, robustness, one scorecard."""
