/*
 * empty_proxy - the floor for tools/bench/envoy_cost.py: a proxy-wasm
 * (ABI 0.2.1) module that does nothing but let every request through.
 * What Envoy spends on it per request is what any Wasm filter costs there
 * (a VM context per stream, the callbacks' crossings), before the filter
 * does any work of its own. Benchmark only; never installed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define EXPORT(name) __attribute__((export_name(#name)))

EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void)
{
}

EXPORT(proxy_on_memory_allocate) void *proxy_on_memory_allocate(size_t n)
{
	return malloc(n ? n : 1);
}

EXPORT(proxy_on_vm_start) uint32_t proxy_on_vm_start(uint32_t id, size_t n)
{
	(void)id;
	(void)n;
	return 1;
}

EXPORT(proxy_on_configure) uint32_t proxy_on_configure(uint32_t id, size_t n)
{
	(void)id;
	(void)n;
	return 1;
}

EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t id, uint32_t parent)
{
	(void)id;
	(void)parent;
}

EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t id, size_t n, uint32_t eos)
{
	(void)id;
	(void)n;
	(void)eos;
	return 0;
}

EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t id)
{
	(void)id;
	return 1;
}

EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t id)
{
	(void)id;
}
