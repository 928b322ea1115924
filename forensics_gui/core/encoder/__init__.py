"""AV-HuBERT features: the fairseq-free model, its audio input, the feature store, the cache and the device choice."""
