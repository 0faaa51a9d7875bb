# Notebooks: JupyterLab with the project's kernels, installed into .venv only.
# See docs/notebooks.md.

NOTEBOOK_PORT ?= 8888
# Jupyter refuses to run as root unless told (containers, this project's machines).
JUPYTER_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: kernel
kernel: $(STAMP) ## install the etl-local Jupyter kernel (local Spark, Glue magics as no-ops) into .venv
	$(PY) -m etl_lib.notebook.kernel

.PHONY: install-glue-kernels
install-glue-kernels: $(STAMP) ## install etl-local plus aws-glue-sessions' glue_pyspark and glue_spark kernels into .venv
	$(PY) -m etl_lib.notebook.kernel --glue

.PHONY: jupyter
jupyter: install-glue-kernels ## start JupyterLab on notebooks/ with the etl-local, glue_pyspark and glue_spark kernels
	cd notebooks && $(abspath $(BIN))/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(NOTEBOOK_PORT) --no-browser $(JUPYTER_ROOT)

.PHONY: notebooks-strip
notebooks-strip: $(STAMP) ## strip outputs from notebooks/*.ipynb (committed notebooks have none)
	$(PY) -m etl_lib.notebook.strip notebooks/*.ipynb

.PHONY: notebooks-fixtures
notebooks-fixtures: $(STAMP) ## regenerate notebooks/fixtures (sample Parquet, golden JSONL, run report)
	$(PY) notebooks/fixtures/make_fixtures.py

.PHONY: test-notebooks
test-notebooks: $(STAMP) ## only the notebook tests (papermill regression runs on the etl-local kernel)
	$(BIN)/pytest tests/notebooks

SESSIONS_PORT ?= 8998
CDK_OUTPUTS   ?= build/cdk-outputs.json

.PHONY: sessions
sessions: install-glue-kernels ## serve the local Glue interactive-sessions endpoint on 127.0.0.1:$(SESSIONS_PORT) (etl sessions)
	$(BIN)/etl sessions --port $(SESSIONS_PORT)

.PHONY: session-config
session-config: $(STAMP) ## write .glue-session.json for glue_pyspark: from $(CDK_OUTPUTS) (make deploy), or LOCAL=1 for make sessions
	$(if $(LOCAL),$(BIN)/etl session-config --local http://127.0.0.1:$(SESSIONS_PORT),$(BIN)/etl session-config --outputs-file $(CDK_OUTPUTS))

.PHONY: test-sessions
test-sessions: $(STAMP) ## only the Glue sessions tests (local endpoint, glue_pyspark kernel)
	$(BIN)/pytest tests/devstack/sessions

.PHONY: notebook-run
notebook-run: install-glue-kernels ## run NOTEBOOK into OUT headless (etl notebook run; KERNEL=..., PARAMS="-p name value ..."): fails on any cell error
	$(BIN)/etl notebook run $(NOTEBOOK) $(or $(OUT),build/notebooks/$(notdir $(NOTEBOOK))) $(if $(KERNEL),-k $(KERNEL)) $(PARAMS)
