"""Episodic memory: SQL is the source of truth, a FAISS index a derived cache."""
