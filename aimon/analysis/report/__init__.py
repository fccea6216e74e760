"""The daily and weekly reports: figures against the period before and a baseline
(:mod:`.daily`), and what they mean by thresholds (:mod:`.findings`)."""
