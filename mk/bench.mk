# Benchmarks: etl convert (both engines) against DuckDB, polars and plain Spark.
# Not part of TEST_TARGETS: CI does not run it. See docs/benchmarks.md.

BENCH_ARGS ?=

.PHONY: bench
bench: $(STAMP) ## time etl convert against DuckDB/polars/Spark, write docs/benchmarks.md (~10+ min; BENCH_ARGS=--quick for a smoke run)
	$(PY) bench/run.py $(BENCH_ARGS)

.PHONY: test-bench
test-bench: $(STAMP) ## only the bench harness test (a tiny run, no timing assertions)
	$(BIN)/pytest tests/bench
