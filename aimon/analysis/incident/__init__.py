"""Incidents: find them in the logs (:mod:`.detect`) and write their post-mortems
(:mod:`.postmortem`, with :mod:`.attribution`, :mod:`.prose` and :mod:`.marked`)."""
