"""Shared maths and machinery used by several analyses (embeddings, ...)."""
