"""The dashboards as a deployment runs them behind authcore: each with its
own auth off and the glue its migration guide (docs/migrating/) gives, the
user read from scope["authcore"] (set by AuthcoreMiddleware in-process, or
by the assertion's verifier behind a proxy). build(name, job) -> ASGI app.
"""


def fastapi_taskflow(job):
    import asyncio
    from contextlib import asynccontextmanager

    from fastapi import FastAPI
    from fastapi_taskflow import TaskAdmin, TaskManager
    from fastapi_taskflow import router as taskflow_router
    from fastapi_taskflow.wrapper import ManagedBackgroundTasks

    tm = TaskManager()

    @tm.task(retries=0, name="resize_images")
    async def resize_images():
        raise RuntimeError("disk full")

    # docs/migrating/fastapi-taskflow.md, "How the app learns the user":
    # taskflow's audit log takes its actor from here
    taskflow_router._actor = lambda request, secret_key: \
        (request.scope.get("authcore") or {}).get("user") or "anonymous"

    @asynccontextmanager
    async def lifespan(app):
        # one failed task for the dashboard's Retry
        ManagedBackgroundTasks(tm).add_task(resize_images, eager=True)
        await asyncio.sleep(0)
        yield

    app = FastAPI(lifespan=lifespan)
    TaskAdmin(app, tm)  # no auth=: authcore's users, sessions and login
    return app


BUILDERS = {"fastapi-taskflow": fastapi_taskflow}


def build(name, job):
    return BUILDERS[name](job)
