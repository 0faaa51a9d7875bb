# The local stack: `make up` runs the whole product on this machine.
UP_HOST     ?= 127.0.0.1
UP_PORT     ?= 8000
UP_DATA_DIR ?= .etl-local
UP_WORKERS  ?= 1
UP_ENGINE   ?=

.PHONY: up
up: $(STAMP) ## run the web app, API and jobs locally (UP_PORT, UP_DATA_DIR, UP_WORKERS, UP_ENGINE)
	@if [ ! -f frontend/dist/index.html ]; then \
		if command -v npm >/dev/null 2>&1; then \
			echo "building the web app (frontend/dist)"; \
			(cd frontend && npm ci --no-audit --no-fund && npm run build); \
		else \
			echo "note: npm not found; serving the API only (install Node.js 20+ for the web app)"; \
		fi; \
	fi
	$(BIN)/etl up --host $(UP_HOST) --port $(UP_PORT) --data-dir $(UP_DATA_DIR) --workers $(UP_WORKERS) $(if $(UP_ENGINE),--engine $(UP_ENGINE))
