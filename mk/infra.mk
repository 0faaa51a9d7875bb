# AWS CDK app: see docs/deploy.md. `make test` already runs tests/infra (synth,
# cdk-nag, cfn-lint, template assertions) offline; these targets are for humans.

CDK_OUT       := cdk.out
CDK           := infra/node_modules/.bin/cdk
LAMBDA_BUNDLE := build/infra/lambda-bundle
# Lambda runtime of the functions (infra/pipeline/functions.py): x86_64, CPython 3.13.
# Amazon Linux 2023 (glibc 2.34) under python3.13: manylinux_2_28 wheels and older both run.
LAMBDA_WHEEL_PLATFORM := --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64
# Third-party packages the handlers import beyond the Powertools layer and the runtime's boto3.
LAMBDA_DEPS   := pyarrow pydantic pydantic-settings numpy
# The wheels of every package the Glue jobs and sessions install (infra/assets.py:
# wheelhouse_pins), for Glue 6.0's platform: fetched from PyPI here, at install time, and
# staged by synth into the artifacts bucket, so no Glue run ever reaches an index.
GLUE_WHEELHOUSE       := build/glue-wheelhouse
GLUE_WHEELHOUSE_STAMP := $(GLUE_WHEELHOUSE)/.complete
ACCOUNT       ?=
REGION        ?=
CONTEXT       ?=

$(CDK): infra/package.json infra/package-lock.json
	@scripts/check-prereqs.sh node
	cd infra && npm ci --no-audit --no-fund
	@touch $@

$(GLUE_WHEELHOUSE_STAMP): $(STAMP) constraints.txt pyproject.toml
	$(PY) -m infra.assets wheelhouse $(GLUE_WHEELHOUSE)
	@touch $@

.PHONY: wheelhouse
wheelhouse: $(GLUE_WHEELHOUSE_STAMP) ## fetch the Glue jobs' wheels for Glue's platform into build/glue-wheelhouse (synth stages them)

# Synth (the infrastructure tests' too) stages the wheelhouse and refuses to run without it.
install test-python: $(GLUE_WHEELHOUSE_STAMP)

.PHONY: synth
synth: $(STAMP) $(GLUE_WHEELHOUSE_STAMP) ## synthesize the CDK app offline into cdk.out (runs cdk-nag; needs no AWS account)
	rm -rf $(CDK_OUT)
	CDK_OUTDIR=$(CDK_OUT) $(PY) -m infra.app
	@echo "templates in $(CDK_OUT)/: $$(ls $(CDK_OUT)/*.template.json)"

.PHONY: lambda-bundle
lambda-bundle: $(STAMP) ## vendor manylinux wheels + sources into build/infra/lambda-bundle (used by synth/deploy)
	rm -rf $(LAMBDA_BUNDLE) && mkdir -p $(LAMBDA_BUNDLE)
	$(PY) -m pip install --quiet --target $(LAMBDA_BUNDLE) -c constraints.txt \
		$(LAMBDA_WHEEL_PLATFORM) --implementation cp --python-version 3.13 --only-binary=:all: \
		$(LAMBDA_DEPS)
	$(PY) -m infra.assets bundle $(LAMBDA_BUNDLE)

.PHONY: cdk-cli
cdk-cli: $(CDK) ## install the pinned AWS CDK CLI into infra/node_modules

.PHONY: deploy
deploy: $(STAMP) $(CDK) $(GLUE_WHEELHOUSE_STAMP) lambda-bundle ## bootstrap and deploy to AWS (needs credentials): make deploy ACCOUNT=... REGION=...
	@test -n "$(ACCOUNT)" -a -n "$(REGION)" || { \
		echo "usage: make deploy ACCOUNT=123456789012 REGION=eu-west-1 [CONTEXT='-c etl:namePrefix=parquet-json-etl-prod']"; \
		exit 2; }
	$(CDK) bootstrap aws://$(ACCOUNT)/$(REGION) -c etl:account=$(ACCOUNT) -c etl:region=$(REGION) $(CONTEXT)
	$(CDK) deploy --all --require-approval broadening --outputs-file build/cdk-outputs.json \
		-c etl:account=$(ACCOUNT) -c etl:region=$(REGION) $(CONTEXT)

.PHONY: diff
diff: $(STAMP) $(CDK) $(GLUE_WHEELHOUSE_STAMP) ## cdk diff against the deployed stack (needs credentials): make diff ACCOUNT=... REGION=...
	$(CDK) diff -c etl:account=$(ACCOUNT) -c etl:region=$(REGION) $(CONTEXT)
