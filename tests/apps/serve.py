#!/usr/bin/env python3
"""One dashboard app under uvicorn on loopback, for tests/apps/run.py:

    serve.py '<job JSON>'

job = {"app": name, "mode": "proxy" | "inproc", "port": N, "policy": JSON
text (inproc), "identity": {"audience", "secret", "public"} (proxy),
"env": {AUTHCORE_*} (inproc)}. "proxy": the app verifies the assertion a
proxy adds (authcore.identity) and refuses a request without one; "inproc":
AuthcoreMiddleware (hosts/python) decides every request in this process.
The app's glue reads the user from scope["authcore"] in both.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "hosts", "python"))

import uvicorn  # noqa: E402

import apps  # noqa: E402

from authcore.identity import IdentityMiddleware, IdentityVerifier  # noqa: E402


def main():
    job = json.loads(sys.argv[1])
    if job["mode"] == "proxy":
        ident = job["identity"]
        verifier = IdentityVerifier(audience=ident["audience"], secret=ident["secret"])
        if job["app"] in apps.SERVERS:  # not ASGI: serves itself
            return apps.SERVERS[job["app"]](job, verifier)
        public = {"public": ident["public"]} if ident.get("public") else {}
        app = IdentityMiddleware(apps.build(job["app"], job), verifier, **public)
    else:
        from authcore import AuthcoreMiddleware
        app = AuthcoreMiddleware(apps.build(job["app"], job), job["policy"], env=job.get("env") or {}, audit=None)
    uvicorn.run(app, host="127.0.0.1", port=job["port"], log_level="warning",
                proxy_headers=False, ws="auto", lifespan="on")


if __name__ == "__main__":
    main()
