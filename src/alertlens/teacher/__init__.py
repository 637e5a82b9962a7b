"""The BERT teacher: encoder, batching, fine-tuning, adversarial training, scoring, attributions."""
