"""What the logs cost, one module per ``aimon cost`` question: the prices in force
(:mod:`.price_table`), breakdowns (:mod:`.breakdown`), logged vs computed
(:mod:`.reconcile`), spend anomalies (:mod:`.anomalies`), routing opportunity
(:mod:`.routing`) and budget gates (:mod:`.budget`); what they share is in
:mod:`.common`. The forecast is :mod:`aimon.analysis.forecast`.
"""
