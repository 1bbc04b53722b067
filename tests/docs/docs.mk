# Suite 82-docs runs the documentation's code blocks (tests/docs/run_docs.py):
# the C program against `make install`'s prefix, the CLI, nginx with the
# module, Envoy with the filter, workerd/Deno/Node with the edge package.
SUITE_NEEDS_82-docs := lib $(B)/bin/authcore $(NGX_MODULE) $(B)/authcore-proxy.wasm $(EDGE_PKG)
