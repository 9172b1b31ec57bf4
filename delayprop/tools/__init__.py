"""Project tools behind the CLI: the demo, benchmarks runner and code dumps."""
