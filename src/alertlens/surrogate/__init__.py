"""The surrogate: LightGBM on typed features, its transfer set, guided keywords, distillation."""
