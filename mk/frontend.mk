# Front end: React + TypeScript app in frontend/, its component tests (Vitest) and
# its end-to-end tests (Playwright in Debian's Chromium against `etl up`).
FRONTEND      := frontend
CHROMIUM      := /usr/bin/chromium
FRONTEND_STAMP := $(FRONTEND)/node_modules/.installed

# Playwright must never download a browser: the machine's Chromium is used.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

$(FRONTEND_STAMP): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	@command -v node >/dev/null || { echo "error: node (>= 20) is required for the front end" >&2; exit 1; }
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	@touch $@

.PHONY: frontend-chromium
frontend-chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "error: $(CHROMIUM) is missing; install Debian's chromium (sudo apt-get install -y chromium)" >&2; exit 1; \
	  fi; \
	fi

.PHONY: frontend-install
frontend-install: $(FRONTEND_STAMP) frontend-chromium ## install the front end's pinned npm packages and Chromium

.PHONY: frontend-build
frontend-build: $(FRONTEND_STAMP) ## build the front end into frontend/dist
	cd $(FRONTEND) && npm run build

.PHONY: lint-frontend
lint-frontend: $(FRONTEND_STAMP) ## eslint on the front end (part of make lint)
	npm --prefix $(FRONTEND) run lint

LINT_TARGETS += lint-frontend

.PHONY: test-frontend-unit
test-frontend-unit: $(FRONTEND_STAMP)
	cd $(FRONTEND) && npm run typecheck && npx vitest run

# The e2e suite starts the real local stack (`etl up`) itself, on a free port.
.PHONY: test-frontend-e2e
test-frontend-e2e: $(STAMP) frontend-install frontend-build
	cd $(FRONTEND) && npx playwright test

.PHONY: test-frontend
test-frontend: test-frontend-unit test-frontend-e2e ## front end: typecheck, Vitest, Playwright e2e (eslint is in make lint)

TEST_TARGETS += test-frontend
