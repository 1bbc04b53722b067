"""One fastapi-taskflow app for tools/bench/python_ab.py, under uvicorn on
loopback:  python_app.py MODE PORT [POLICY_FILE]
MODE: "inproc" (no auth of its own, AuthcoreMiddleware with POLICY_FILE),
"own" (taskflow's own login and taskflow_token guard, SECRET), "plain" (no
auth at all: what a proxy with authcore forwards to)."""
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "hosts", "python"))

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi_taskflow import TaskAdmin, TaskManager  # noqa: E402

SECRET = "taskflow-app-secret-key-0123456789abcdef"  # the guide's secret_key


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    app = FastAPI()
    tm = TaskManager()
    if mode == "own":
        TaskAdmin(app, tm, auth=("alice", "bench password"), secret_key=SECRET)
    else:
        TaskAdmin(app, tm)
    if mode == "inproc":
        from authcore import AuthcoreMiddleware
        with open(sys.argv[3]) as f:
            app = AuthcoreMiddleware(app, f.read(), audit=None)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                proxy_headers=False, lifespan="on")


if __name__ == "__main__":
    main()
