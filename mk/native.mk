# The native record encoder (etl_lib/contract/_native/encoder.c, see etl_lib/contract/native.py). `make install`
# builds it with the machine's C compiler (pip install -e . runs setup.py); this rebuilds it in
# place whenever its sources change, before anything that runs it.

NATIVE_SOURCES := setup.py $(wildcard etl_lib/contract/_native/*.c etl_lib/contract/_native/*.h)
NATIVE_STAMP   := $(VENV)/.native-built

$(NATIVE_STAMP): $(STAMP) $(NATIVE_SOURCES)
	$(PY) -m pip install --quiet --no-deps $(EDITABLE) .
	@touch $@

.PHONY: native
native: $(NATIVE_STAMP) ## (re)build the native JSON encoder in place

install: $(NATIVE_STAMP)
test-python: $(NATIVE_STAMP)
bench: $(NATIVE_STAMP)
lambda-bundle: $(NATIVE_STAMP)
