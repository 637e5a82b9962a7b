"""Typed features the surrogate reads, extracted from alerts per a validated spec."""

from alertlens.features.extract import FeatureExtractor
from alertlens.features.spec import KINDS, FeatureColumn, FeatureDef, FeatureSpec

__all__ = ["KINDS", "FeatureColumn", "FeatureDef", "FeatureExtractor", "FeatureSpec"]
