# The apps suite's own venv (77-apps): the dashboards from PyPI, pinned in
# tests/apps/requirements.txt, apart from the project venv so their
# dependencies never meet the tools'.
APPS_VENV := $(B)/apps-venv/.stamp

$(APPS_VENV): tests/apps/requirements.txt
	@test -x $(B)/apps-venv/bin/python || python3 -m venv $(B)/apps-venv
	$(B)/apps-venv/bin/pip install -q --disable-pip-version-check -r $<
	cp $< $@
# built by a plain `make test` too (test-bins), not only for SUITES=77-apps
TEST_BINS += $(APPS_VENV)
