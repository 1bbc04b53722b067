#!/usr/bin/env bash
# OpenID Connect sign-in against a real provider (npm oidc-provider with its
# own login and consent pages, tests/lib/idp.mjs login) in headless Debian
# Chromium driven by playwright-core: first the provider alone as the
# relying party uses it (code + S256 PKCE, client_secret_basic, the ID
# token's signature and claims, a code used twice, a denied consent); then
# Envoy, nginx and workerd each in front of an echo upstream with an
# SSO-only policy: the login page's provider button, the provider's pages,
# the upstream handed the user's email and roles, logout through the
# provider's confirmation; and over HTTP the refusals with their audit
# reasons (forged state, a replayed callback with and without the start's
# cookie, a changed nonce, an unverified email, a domain outside the
# allowlist, the provider's error); two sign-ins at once, each its own token
# POST exactly as the core names it, nothing of the client's request
# reaching the provider; the client secret from an AUTHCORE_*
# variable of each host's environment (client_secret_env); Envoy over TLS
# (an https redirect URI, Secure cookies). Driver: tests/hosts/oidc_login.py
# (tests/lib/oidckit.py, tests/browser/oidc_flow.mjs). Loopback only; every
# wait is bounded.
set -u
cd "$(dirname "$0")/../.."
exec timeout -k 10 600 python3 tests/hosts/oidc_login.py
