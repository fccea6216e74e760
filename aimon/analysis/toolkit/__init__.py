"""Shared maths and time for every question, each concept defined once.

- :mod:`.window`: what --since/--until and other time text mean (spans, ISO times,
  days), the newest request, the UTC :class:`~.window.Window`;
- :mod:`.period`: calendar days and weeks in a zone, and their hour buckets;
- :mod:`.dimensions`: the columns a metric can be split by (an Enum, never user text);
- :mod:`.intervals`: proportions and their Wilson intervals (plain and as polars
  expressions), the normal critical value;
- :mod:`.robust`: the robust scale (MAD x 1.4826) in numpy, polars and SQL;
- :mod:`.stats`: tests, intervals of differences, bootstrap, Holm, power;
- :mod:`.gate`: a --fail-on gate's decision as data (:class:`~.gate.Verdict`), and
  which severities are at or above a level;
- :mod:`.embedding`: text embeddings through the database cache (the `embeddings` extra).
"""
