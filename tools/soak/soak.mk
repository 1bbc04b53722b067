# make soak: Envoy (--concurrency 2) and nginx (2 workers) with authcore,
# each under a steady mix of valid, invalid, session, login-page, failed
# login and public requests for SOAK_SECONDS (300); fails on any unexpected
# status, wrk socket error, worker crash, or worker RSS that grew past 10%
# of its value after warm-up (tools/soak/soak.py; Debian's wrk). Not part
# of make test. Report: build/soak/soak.md. SOAK_SECONDS=60 for a short run.
SOAK_SECONDS ?= 300

.PHONY: soak
soak: deps
	@$(MAKE) --no-print-directory $(B)/authcore-proxy.wasm $(NGX_MODULE)
	@command -v wrk >/dev/null || apt-get install -y wrk
	@build/venv/bin/python tools/soak/soak.py --seconds $(SOAK_SECONDS)
