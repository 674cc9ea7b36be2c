"""Deploying a miner onto one of the caller's VMs, and watching it.

Deploys answer 202 with the deployment at once; the build runs as a job whose states
and events show in ``GET /vms/{id}/deployments`` and whose output is in ``/logs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import PlainTextResponse, StreamingResponse

from tensornode.contracts.coordinator import (
    DeploymentPublic,
    DeploymentsPublic,
    DockerUrlDeploy,
    MinerDeploy,
)
from tensornode.coordinator.deps import CoordinatorDep, OwnedVM
from tensornode.errors import InvalidInput

router = APIRouter(prefix="/vms/{vm_id}", tags=["deployments"])
ACCEPTED = status.HTTP_202_ACCEPTED


@router.post("/miner", status_code=ACCEPTED)
async def deploy_builtin(vm: OwnedVM, body: MinerDeploy, core: CoordinatorDep) -> DeploymentPublic:
    """Run the reference miner (``tensornode miner serve``) with these models."""
    return await core.deployments.deploy_builtin(vm.id, body.models, port=body.port)


@router.post("/docker/url", status_code=ACCEPTED)
async def deploy_docker_url(
    vm: OwnedVM, body: DockerUrlDeploy, core: CoordinatorDep
) -> DeploymentPublic:
    """Fetch, build and run the Dockerfile at ``dockerfile_url`` (http/https; public
    addresses only outside dev mode)."""
    return await core.deployments.deploy_dockerfile_url(vm.id, body.dockerfile_url, port=body.port)


async def _upload(
    vm: OwnedVM, core: CoordinatorDep, file: UploadFile, port: int
) -> DeploymentPublic:
    limit = core.settings.coordinator.dockerfile_max_bytes
    content = await file.read(limit + 1)
    if not content:
        raise InvalidInput("the uploaded Dockerfile is empty")
    return await core.deployments.deploy_dockerfile(vm.id, content, port=port)


UploadedFile = Annotated[UploadFile, File(description="the Dockerfile")]
PortForm = Annotated[int, Form(ge=1, le=65535)]


@router.post("/docker/upload", status_code=ACCEPTED)
async def deploy_docker_upload(
    vm: OwnedVM, core: CoordinatorDep, file: UploadedFile, port: PortForm = 3000
) -> DeploymentPublic:
    """Build and run an uploaded Dockerfile (multipart field ``file``, optional ``port``)."""
    return await _upload(vm, core, file, port)


@router.post("/docker/local", status_code=ACCEPTED, include_in_schema=False)
async def deploy_docker_local(
    vm: OwnedVM, core: CoordinatorDep, file: UploadedFile, port: PortForm = 3000
) -> DeploymentPublic:
    """The same as ``/docker/upload`` (the name the earlier dashboard used)."""
    return await _upload(vm, core, file, port)


@router.post("/docker/stop")
async def stop_miner(vm: OwnedVM, core: CoordinatorDep) -> DeploymentPublic:
    """Stop the VM's current miner (409 if there is none)."""
    stopped = await core.deployments.stop_vm_miner(vm.id)
    assert stopped is not None
    return stopped


@router.post("/restart", status_code=ACCEPTED)
async def restart_miner(vm: OwnedVM, core: CoordinatorDep) -> DeploymentPublic:
    """Deploy the VM's latest miner again from the same spec."""
    return await core.deployments.redeploy(vm.id)


@router.get("/deployments")
async def list_deployments(vm: OwnedVM, core: CoordinatorDep) -> DeploymentsPublic:
    """The VM's deployments, newest first, each with its event log."""
    data = await core.deployments.for_vm(vm.id)
    return DeploymentsPublic(data=data, count=len(data))


@router.get("/logs", response_model=None)
async def logs(
    vm: OwnedVM,
    core: CoordinatorDep,
    request: Request,
    tail: Annotated[int, Query(ge=0, le=10000)] = 200,
    follow: bool = False,
) -> PlainTextResponse | StreamingResponse:
    """The latest deployment's log (build output, state changes) and the miner's output.

    ``follow=true`` streams the deployment log's new lines until the client leaves: as
    ``text/event-stream`` when the client accepts it, else as chunked ``text/plain``.
    """
    if not follow:
        return PlainTextResponse(await core.deployments.logs(vm.id, tail=tail))
    lines = core.deployments.follow(vm.id, tail=tail)
    first = await anext(lines, None)  # raise Conflict now, not inside the stream
    sse = "text/event-stream" in request.headers.get("accept", "")

    async def stream() -> AsyncIterator[str]:
        line = first
        while line is not None:
            yield f"data: {line}\n\n" if sse else f"{line}\n"
            line = await anext(lines, None)

    media = "text/event-stream" if sse else "text/plain; charset=utf-8"
    return StreamingResponse(stream(), media_type=media, headers={"Cache-Control": "no-cache"})
