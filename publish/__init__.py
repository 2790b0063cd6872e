"""Report builders: great-tables tables and the dated report edition, from ``marts`` alone."""
