"""The cost forecast: the model (:mod:`.model`) and the daily spend it forecasts (:mod:`.spend`)."""
