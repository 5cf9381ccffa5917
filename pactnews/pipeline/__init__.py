"""The build: documents -> Parquet configs, the token view, claim clusters, tallies."""
