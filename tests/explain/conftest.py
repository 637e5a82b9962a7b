"""The explainer is tested on the surrogate tests' tiny model and alerts."""

from ..surrogate.conftest import (  # noqa: F401
    THRESHOLD,
    alerts,
    evidence_model,
    make_alert,
    model,
    random_alert,
    reference,
    teacher_margin,
    text_model,
)
