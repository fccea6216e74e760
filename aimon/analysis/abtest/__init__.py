"""A/B experiments: listing them (:mod:`.experiments`) and analysing one (:mod:`.analyze`,
with the metrics in :mod:`.metrics`, the comparisons in :mod:`.compare` and the result
types in :mod:`.results`)."""
