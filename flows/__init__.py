"""Thin Prefect flows and tasks wiring the stages; ``events`` names every event; ``cli`` is the entry."""
