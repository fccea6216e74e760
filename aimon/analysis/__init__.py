"""One module per question a user asks of the logs.

Each takes a DuckDB connection and a time window and returns plain results (frozen
dataclasses whose tables are polars frames). No printing, no typer, no rich here.
"""
