"""aimon: offline analysis of AI/LLM production logs in an embedded DuckDB file."""

__version__ = "0.1.0"
