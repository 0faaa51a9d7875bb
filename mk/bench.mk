# Benchmarks: etl convert (both engines) against DuckDB, polars and plain Spark.
# Not part of TEST_TARGETS: CI does not run it. See docs/benchmarks.md.

BENCH_ARGS ?=

.PHONY: bench
bench: $(STAMP) ## time etl convert against DuckDB/polars/Spark, write docs/benchmarks.md (~10+ min; BENCH_ARGS=--quick for a smoke run)
	$(PY) bench/run.py $(BENCH_ARGS)

.PHONY: test-bench
test-bench: $(STAMP) ## only the bench harness test (a tiny run, no timing assertions)
	$(BIN)/pytest tests/bench

.PHONY: bench-scale
bench-scale: $(STAMP) ## only the Spark engine's scale section of docs/benchmarks.md: fixed cost, local[1] vs local[2], per core (~10 min)
	$(PY) bench/scale.py $(BENCH_ARGS)

.PHONY: bench-big
bench-big: $(STAMP) ## a generated 6 GiB Parquet file through etl up (multipart upload, Spark, download); its section of docs/benchmarks.md (~10+ min, ~30 GB of disk)
	$(PY) bench/big.py $(BENCH_ARGS)
