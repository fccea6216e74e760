"""Alert rules over trailing windows: the rules (:mod:`.rules`), the arithmetic over a
minute grid (:mod:`.evaluate`), one check with its state (:mod:`.check`) and the replay
(:mod:`.scan`)."""
