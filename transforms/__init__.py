"""Models from staging to core and marts: SQL files run in order, plus the indicator catalogue."""
