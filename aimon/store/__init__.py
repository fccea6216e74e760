"""The DuckDB file: connection, schema and migrations, ingest and the log-shape mappers.

Never imports typer or rich; raises aimon.errors exceptions instead of exiting.
"""
