"""``POST /deploy``, ``POST /allocate``, ``GET /configurations``, ``POST /estimate``."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from tensornode.contracts.coordinator import (
    AllocatePublic,
    ConfigurationPublic,
    ConfigurationsPublic,
    DeployedVM,
    DeploymentPublic,
    DeployResult,
    EstimatePublic,
    EstimateRequest,
    MinerSpecIn,
    VMAllocate,
    VMCreate,
)
from tensornode.coordinator.core import Coordinator
from tensornode.coordinator.deps import CoordinatorDep, CurrentAccount
from tensornode.coordinator.services.vms import normalize_ports
from tensornode.errors import InvalidInput
from tensornode.net.safe_fetch import check_url_allowed

router = APIRouter(tags=["vms"])


async def _check_miner_spec(core: Coordinator, spec: MinerSpecIn) -> None:
    """Refuse a bad miner spec before any VM is rented."""
    core.machines.runtime(spec.runtime)
    if spec.runtime == "docker":
        if not spec.dockerfile_url:
            raise InvalidInput("miner.dockerfile_url is required for the docker runtime")
        await check_url_allowed(
            spec.dockerfile_url, allow_private=core.settings.dev_mode, what="dockerfile_url"
        )
    else:
        for model in spec.models:
            await core.deployments.check_upstream(model)


async def _deploy_miner(core: Coordinator, vm_id: str, spec: MinerSpecIn) -> DeploymentPublic:
    if spec.runtime == "docker":
        assert spec.dockerfile_url is not None
        return await core.deployments.deploy_dockerfile_url(
            vm_id, spec.dockerfile_url, port=spec.port
        )
    return await core.deployments.deploy_builtin(vm_id, spec.models, port=spec.port)


@router.post("/deploy", status_code=status.HTTP_201_CREATED)
async def deploy(body: VMCreate, account: CurrentAccount, core: CoordinatorDep) -> DeployResult:
    """Rent VMs (``instances``, default 1) within the price cap; optionally deploy a miner
    on each at once (it starts when the VM is active). ``.deployment.vmId`` is the first VM."""
    ports = body.vm_configuration.open_ports
    if body.miner is not None:
        await _check_miner_spec(core, body.miner)
        if body.miner.port not in {p.port for p in normalize_ports(ports)}:
            raise InvalidInput(f"miner port {body.miner.port} is not in vmConfiguration.openPorts")
    vms = await core.vms.create(
        account.id,
        name=body.instance_name or body.vm_configuration.name,
        constraints=body.constraints,
        open_ports=ports,
        instances=body.instances,
    )
    deployments = []
    if body.miner is not None:
        deployments = [await _deploy_miner(core, vm.id, body.miner) for vm in vms]
    return DeployResult(
        deployment=DeployedVM(vm_id=vms[0].id, vm_name=vms[0].name),
        vms=[await core.vms.public(vm) for vm in vms],
        miner_deployments=deployments,
    )


@router.post("/allocate")
async def allocate(
    body: VMAllocate, account: CurrentAccount, core: CoordinatorDep, response: Response
) -> AllocatePublic:
    """An idle VM of the caller's (active, no miner) renamed to ``instanceName``, or a new
    one (201)."""
    vm, reused = await core.vms.allocate(
        account.id, name=body.instance_name, constraints=body.constraints
    )
    response.status_code = status.HTTP_200_OK if reused else status.HTTP_201_CREATED
    return AllocatePublic(vm_id=vm.id, reused=reused, vm=await core.vms.public(vm))


@router.get("/configurations")
async def configurations(core: CoordinatorDep) -> ConfigurationsPublic:
    """VM configurations on offer, cheapest first, with their price per 24 h epoch (USD)."""
    configs = await core.vms.configurations()
    data = [
        ConfigurationPublic(
            slug=c.slug,
            vcpus=c.vcpus,
            ram_gb=c.ram_gb,
            storage_gb=c.storage_gb,
            price_per_epoch_usd=c.price_per_epoch_usd,
        )
        for c in configs
    ]
    return ConfigurationsPublic(data=data, count=len(data))


@router.post("/estimate")
async def estimate(body: EstimateRequest, core: CoordinatorDep) -> EstimatePublic:
    """What ``instances`` VMs of a configuration cost per epoch, and the deposit they need."""
    return await core.vms.estimate(body.constraints, body.instances)
