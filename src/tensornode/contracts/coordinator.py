"""The coordinator API (port 8000): request and response bodies; no logic lives here.

Field names on the wire are camelCase as in the miner guide and Fluence's API
(``walletAddress``, ``vmId``, ``openPorts``, ``maxTotalPricePerEpochUsd``), except the
guide's own ``dockerfile_url``. Prices are decimal strings in USD per 24 h epoch.
Request bodies ignore unknown fields (the guide's bodies carry Fluence-only parts).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Port = Annotated[int, Field(ge=1, le=65535)]
ModelSpec = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9_-]*=[^\s-][^\s]*$", max_length=300, examples=["llm=tiny"])
]
"""A builtin miner's model: ``TYPE=BACKEND[:TARGET]`` (``llm=tiny``)."""
WALLET_PATTERN = r"^0\.0\.[0-9]{1,19}$"
"""A Hedera account id (``shard.realm.num``; TensorNode runs on shard 0, realm 0)."""


class WireModel(BaseModel):
    """camelCase on the wire, snake_case in Python; both accepted on input."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
    )


class PortPublic(WireModel):
    port: Port
    protocol: Literal["tcp", "udp"] = "tcp"


class Constraints(WireModel):
    basic_configuration: str | None = Field(None, examples=["cpu-8-ram-16gb-storage-50gb"])
    max_total_price_per_epoch_usd: Decimal | None = Field(None, gt=0, examples=["3.0"])


class VMConfiguration(WireModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    open_ports: list[PortPublic] | None = None


class MinerDeploy(BaseModel):
    """Run the builtin miner (``tensornode miner serve``) on a VM."""

    model_config = ConfigDict(extra="ignore")

    models: list[ModelSpec] = Field(default_factory=lambda: ["llm=tiny"], min_length=1)
    port: Port = 3000


class DockerUrlDeploy(BaseModel):
    """Build and run the Dockerfile at a URL (the guide's ``POST /vms/{id}/docker/url``)."""

    model_config = ConfigDict(extra="ignore")

    dockerfile_url: str = Field(
        validation_alias=AliasChoices("dockerfile_url", "dockerfileUrl", "url"), min_length=1
    )
    port: Port = 3000


class MinerSpecIn(WireModel):
    """A miner to deploy right away with ``POST /deploy``: builtin models or a Dockerfile URL."""

    runtime: Literal["builtin", "docker"] = "builtin"
    models: list[ModelSpec] = Field(default_factory=lambda: ["llm=tiny"], min_length=1)
    dockerfile_url: str | None = Field(
        None, validation_alias=AliasChoices("dockerfile_url", "dockerfileUrl")
    )
    port: Port = 3000


class VMCreate(WireModel):
    """``POST /deploy``: one or more VMs, optionally with a miner on each."""

    wallet_address: str | None = None
    constraints: Constraints = Field(default_factory=Constraints)
    vm_configuration: VMConfiguration = Field(default_factory=VMConfiguration)
    instances: int = Field(1, ge=1)
    instance_name: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        validation_alias=AliasChoices("instanceName", "instance_name", "name"),
    )
    miner: MinerSpecIn | None = None


class VMAllocate(WireModel):
    """``POST /allocate``: an idle VM of the caller's, or a new one."""

    wallet_address: str | None = None
    miner_address: str | None = None
    instance_name: str | None = Field(None, min_length=1, max_length=100)
    constraints: Constraints = Field(default_factory=Constraints)


class VMUpdate(WireModel):
    """``PATCH /vms/{id}``: rename, or replace the open ports (22 is always kept)."""

    name: str | None = Field(None, min_length=1, max_length=100)
    open_ports: list[PortPublic] | None = None


class VMPublic(WireModel):
    id: str
    vm_id: str
    name: str
    owner: str
    provider: str
    configuration: str
    status: str
    status_reason: str | None
    public_ip: str | None
    open_ports: list[PortPublic]
    price_per_epoch_usd: Decimal
    miner_id: str | None = None
    endpoint: str | None = None
    deployment_state: str | None = None
    created_at: datetime
    updated_at: datetime


class VMsPublic(WireModel):
    data: list[VMPublic]
    count: int


class DeployedVM(WireModel):
    vm_id: str
    vm_name: str


class DeploymentEventPublic(WireModel):
    at: datetime
    state: str
    message: str


class DeploymentPublic(WireModel):
    id: str
    vm_id: str
    runtime: str
    source: str
    source_url: str | None
    port: int
    public_port: int
    models: list[str]
    state: str
    reason: str | None
    endpoint: str | None
    created_at: datetime
    updated_at: datetime
    events: list[DeploymentEventPublic] = Field(default_factory=list)


class DeploymentsPublic(WireModel):
    data: list[DeploymentPublic]
    count: int


class DeployResult(WireModel):
    """``POST /deploy``: ``deployment`` is the first VM (the guide reads ``.deployment.vmId``)."""

    deployment: DeployedVM
    vms: list[VMPublic]
    miner_deployments: list[DeploymentPublic] = Field(default_factory=list)


class ConfigurationPublic(WireModel):
    slug: str
    vcpus: int
    ram_gb: int
    storage_gb: int
    price_per_epoch_usd: Decimal


class ConfigurationsPublic(WireModel):
    data: list[ConfigurationPublic]
    count: int


class EstimateRequest(WireModel):
    constraints: Constraints = Field(default_factory=Constraints)
    instances: int = Field(1, ge=1)


class EstimatePublic(WireModel):
    """Fluence's estimate shape: prices per epoch and the deposit they need."""

    configuration: str
    instances: int
    price_per_epoch: Decimal
    total_price_per_epoch: Decimal
    max_price_per_epoch: Decimal | None
    deposit_epochs: int
    deposit_amount_usdc: Decimal


class MinerCreate(WireModel):
    """``POST /miners``: register a miner you run yourself (it must pass ``miner check``)."""

    endpoint: str = Field(min_length=1, validation_alias=AliasChoices("endpoint", "url"))
    name: str | None = Field(None, min_length=1, max_length=100)
    subnet: str = Field("llm", pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    wallet_address: str | None = None


class MinerPublic(WireModel):
    """A miner as the network dashboard shows it (public data)."""

    id: str
    name: str
    owner: str
    kind: str
    subnet: str
    vm_id: str | None
    endpoint: str
    status: str
    uptime_seconds: float | None
    availability: float | None
    request_count: int
    error_count: int
    avg_response_time_ms: float | None
    p95_response_time_ms: float | None
    restarts: int
    started_at: datetime | None
    last_probe_at: datetime | None
    created_at: datetime


class MinersPublic(WireModel):
    data: list[MinerPublic]
    count: int


class AllocatePublic(WireModel):
    """``POST /allocate``: the VM, and whether an idle one was reused."""

    vm_id: str
    reused: bool
    vm: VMPublic


class VMExecRequest(WireModel):
    """``POST /vms/{id}/exec``: a command line (run by ``sh -c``) or an argv list."""

    command: str | list[str] = Field(..., examples=["docker ps", ["df", "-h"]])
    timeout: float | None = Field(None, gt=0, description="seconds; default and maximum are set")


class VMExecPublic(WireModel):
    exit_code: int
    output: str  # stdout and stderr merged; the last 64 KiB
    duration_ms: int


class VMCommandPublic(WireModel):
    """One line of a VM's command audit log (the output is never kept)."""

    id: int
    account: str
    command: str
    exit_code: int | None
    outcome: Literal["exited", "timed_out", "failed"]
    duration_ms: int
    at: datetime


class VMCommandsPublic(WireModel):
    data: list[VMCommandPublic]
    count: int
