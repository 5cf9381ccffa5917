"""The benchmark and its synthetic corpus (outside the package: `python -m bench.suite`)."""
