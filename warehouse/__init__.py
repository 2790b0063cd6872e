"""DuckDB: the private work database, migrations, idempotent loads, atomic publication."""
