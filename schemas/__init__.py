"""pandera models for every landed table."""
