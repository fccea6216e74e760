"""Alert rules over trailing windows: the rules (:mod:`.rules`), the arithmetic over a
minute grid (:mod:`.evaluate`), one check and what its state becomes (:mod:`.check`; ``aimon.store.alert_state``
keeps it) and the replay
(:mod:`.scan`)."""
