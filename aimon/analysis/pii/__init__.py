"""PII and secrets in the logs: what is looked for (:mod:`.entities`, validated by
:mod:`.validators` and :mod:`.secrets`), the vectorised scan (:mod:`.scan`), the
findings cache's read side (:mod:`.cache`: what is left to scan, and the scan as data
for ``aimon.store.pii_cache`` to keep), the audit report (:mod:`.report`), masks for samples
(:mod:`.mask`) and the redacted Parquet export (:mod:`.export`)."""
