"""Phase 5: retrieval-augmented generation (retrieval, readers, generators, chatbots)."""
