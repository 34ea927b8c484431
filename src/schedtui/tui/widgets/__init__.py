"""Console widgets, one module per feature."""
