"""Similarity: answers against golden answers, consistency of repeated prompts, and the
semantic-cache opportunity."""

from aimon.analysis.similarity.golden import GoldenReport, golden_report, judge, load_golden
from aimon.analysis.similarity.repeats import (
           CacheOpportunity,
           Consistency,
           cache_opportunity,
           consistency,
)

__all__ = ["CacheOpportunity", "Consistency", "GoldenReport", "cache_opportunity", "consistency",
           "golden_report", "judge", "load_golden"]
