"""Phase 3: natural language processing (text pipeline, Word2Vec, LSTMs, BERT fine-tuning, a translator)."""
