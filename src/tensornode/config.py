"""Settings: one object, built once at the edge (CLI or test) and passed down.

Every field can be set by an environment variable with the prefix ``TENSORNODE_``
(nested sections use ``__``: ``TENSORNODE_MINER__MAX_TOKENS=256``). Nothing reads the
environment at import time: call :func:`load_settings` or build ``Settings(...)``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tensornode.errors import ConfigurationError


def default_data_dir() -> Path:
    return Path.home() / ".tensornode"


class MinerSettings(BaseModel):
    """Limits and switches of the reference miner (``tensornode miner serve``)."""

    max_tokens: int = Field(512, ge=1, description="largest max_tokens a request may ask for")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="largest request body")
    batching: bool = True
    batch_window_ms: float = Field(
        20.0, ge=0.0, description="longest a batch waits for expected concurrent requests"
    )
    max_batch_size: int = Field(16, ge=1)
    cache: bool = True
    cache_size: int = Field(1024, ge=1)
    max_queue: int = Field(256, ge=1, description="waiting requests before 503")
    nonce: str | None = Field(
        None, max_length=128, description="reported in /health: the coordinator's deployment id"
    )
    coordinator_key: str | None = Field(
        None,
        description="the coordinator's request key (GET /network/key); with public_url set,"
        " chat requests not signed for this miner get 401 (relays to it fail)",
    )
    public_url: str | None = Field(
        None, description="the URL this miner is registered under (what requests are signed for)"
    )


class CoordinatorSettings(BaseModel):
    """The coordinator's VM and deployment knobs."""

    provider: str = Field("local", description="provider new VMs are rented from")
    default_configuration: str | None = Field(
        None, description="VM configuration slug when a deploy names none (cheapest if unset)"
    )
    health_deadline_s: float = Field(180.0, gt=0, description="wait for a new miner's /health")
    health_poll_interval_s: float = Field(0.5, gt=0)
    dockerfile_max_bytes: int = Field(256 * 1024, ge=1024, description="largest Dockerfile")
    dockerfile_fetch_timeout_s: float = Field(15.0, gt=0)
    max_instances_per_request: int = Field(10, ge=1)
    max_vms_per_account: int = Field(
        20, ge=1, description="VMs an account may hold at once (not terminated)"
    )
    max_ports_per_vm: int = Field(8, ge=2, description="ports one VM may open (22 included)")
    allow_local_provider: bool = Field(
        False,
        description="outside dev mode, let accounts run miners on this coordinator's own host"
        " (the local provider); off: refused at start",
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=4096, description="largest request body of any route (413 beyond)"
    )
    body_timeout_s: float = Field(30.0, gt=0, description="a request body's time to arrive")
    max_json_depth: int = Field(32, ge=2, description="deepest JSON nesting accepted (400)")
    max_header_bytes: int = Field(
        64 * 1024, ge=4096, description="largest request head (request line and headers)"
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="a connection's time to send a whole request head (from its start or"
        " the next request's first byte), and an idle keep-alive connection's to begin one",
    )
    http_parser: Literal["h11", "httptools"] | None = Field(
        None,
        description="uvicorn's HTTP implementation; default: h11 outside dev mode (it caps a"
        " request head at max_header_bytes while reading it; httptools buffers any size)",
    )


class MonitorSettings(BaseModel):
    """The health monitor: probe pacing, when a miner is unhealthy, restart backoff."""

    enabled: bool = Field(True, description="run the monitor loop in the coordinator")
    interval_s: float = Field(10.0, gt=0, description="seconds between probe passes")
    probe_timeout_s: float = Field(5.0, gt=0)
    max_concurrency: int = Field(32, ge=1, description="probes in flight at once")
    unhealthy_after: int = Field(3, ge=1, description="consecutive failed probes")
    restart_backoff_s: float = Field(5.0, ge=0, description="first restart delay; doubles")
    restart_backoff_cap_s: float = Field(300.0, ge=0)
    start_timeout_s: float = Field(120.0, gt=0, description="a restarted miner's time to heal")
    max_restarts: int = Field(20, ge=0, description="attempts without recovery; 0: no limit")


HEDERA_ACCOUNT_PATTERN = r"^\d+\.\d+\.\d+$"
PLACEHOLDER_ACCOUNTS = frozenset({"0.0.1000", "0.0.1001", "0.0.1002"})
"""The dev defaults of the pool, treasury and in-process validator accounts."""


class RewardsSettings(BaseModel):
    """Per-epoch emission and how it is split (``TENSORNODE_REWARDS__...``).

    Money is an integer in the smallest unit (``unit``, e.g. tinybar); a float is refused.
    The three percentages are integers that sum to exactly 100. The defaults for the two
    accounts are dev placeholders: production must name its own.
    """

    emission_per_epoch: int = Field(
        720_000_000_000, ge=0, description="minted and paid out per epoch, in the smallest unit"
    )
    miners_percent: int = Field(70, ge=0, le=100)
    validators_percent: int = Field(20, ge=0, le=100)
    treasury_percent: int = Field(10, ge=0, le=100)
    treasury_account: str = Field("0.0.1001", pattern=HEDERA_ACCOUNT_PATTERN)
    pool_account: str = Field(
        "0.0.1000",
        pattern=HEDERA_ACCOUNT_PATTERN,
        description="the account payouts are drawn from (the local ledger mints into it)",
    )
    epoch_seconds: int = Field(86_400, ge=1, description="epoch length; minutes in dev")
    scheduler: bool = Field(True, description="run the epoch scheduler loop in the coordinator")
    settle_interval_s: float = Field(5.0, gt=0, description="how often the scheduler looks")
    unit: str = Field("tinybar", min_length=1, max_length=20)
    ledger: Literal["local", "hedera"] = Field(
        "local", description="where payouts go: the local SQL ledger or Hedera (hedera: ...)"
    )

    @field_validator(
        "emission_per_epoch",
        "miners_percent",
        "validators_percent",
        "treasury_percent",
        mode="before",
    )
    @classmethod
    def _no_floats(cls, value: object) -> object:
        if isinstance(value, float | bool):
            raise ValueError(f"must be an integer, got {value!r}")
        return value

    @model_validator(mode="after")
    def _percentages_sum_to_100(self) -> RewardsSettings:
        total = self.miners_percent + self.validators_percent + self.treasury_percent
        if total != 100:
            raise ValueError(
                f"miners_percent + validators_percent + treasury_percent must be 100, got {total}"
            )
        if self.treasury_account == self.pool_account:
            raise ValueError("treasury_account and pool_account must differ")
        return self


HederaNetwork = Literal["mainnet", "testnet", "previewnet", "custom"]

HEDERA_MIRROR_URLS: dict[str, str] = {
    "mainnet": "https://mainnet-public.mirrornode.hedera.com",
    "testnet": "https://testnet.mirrornode.hedera.com",
    "previewnet": "https://previewnet.mirrornode.hedera.com",
}


class HederaSettings(BaseModel):
    """The Hedera ledger and score log (``TENSORNODE_HEDERA__...``).

    The operator pays the rewards (it is the pool account) and the transaction fees; its
    key comes from ``OPERATOR_KEY`` or a file readable by its owner only
    (``OPERATOR_KEY_FILE``, mode 0600) and is never logged.
    """

    network: HederaNetwork = Field("testnet", description="custom: the nodes listed in nodes")
    nodes: dict[str, str] = Field(
        default_factory=dict, description='custom network: {"host:port": "0.0.3", ...}'
    )
    mirror_url: str | None = Field(None, description="mirror node REST URL; default: network's")
    operator_id: str | None = Field(None, pattern=HEDERA_ACCOUNT_PATTERN)
    operator_key: SecretStr | None = Field(None, description="DER or raw hex private key")
    operator_key_file: Path | None = Field(None, description="a 0600 file holding the key")
    currency: str = Field(
        "HBAR", pattern=r"^(HBAR|\d+\.\d+\.\d+)$", description="HBAR or an HTS token id"
    )
    topic_id: str | None = Field(
        None, pattern=HEDERA_ACCOUNT_PATTERN, description="the score log's HCS topic"
    )
    report_url: str | None = Field(
        None, description="base URL of the published reports (GET {url}/epochs/{n})"
    )
    max_transaction_fee: int = Field(200_000_000, ge=1, description="tinybar per transaction")
    valid_duration_s: int = Field(120, ge=15, le=180, description="a transaction's lifetime")
    max_attempts: int = Field(10, ge=1, description="submissions per transaction (BUSY, ...)")
    min_backoff_s: float = Field(0.25, ge=0, description="first retry delay; doubles")
    max_backoff_s: float = Field(8.0, ge=0)
    grpc_deadline_s: float = Field(10.0, gt=0, description="one gRPC call")
    receipt_attempts: int = Field(8, ge=1, description="receipt queries before asking the mirror")
    mirror_lag_s: float = Field(
        30.0, ge=0, description="how long after expiry a transaction may still reach the mirror"
    )
    mirror_timeout_s: float = Field(10.0, gt=0)

    def mirror_base_url(self) -> str:
        """The mirror node REST base URL (configured, else the public one of the network)."""
        if self.mirror_url:
            return self.mirror_url.rstrip("/")
        if self.network == "custom":
            raise ValueError("a custom Hedera network needs TENSORNODE_HEDERA__MIRROR_URL")
        return HEDERA_MIRROR_URLS[self.network]

    @model_validator(mode="after")
    def _custom_has_nodes(self) -> HederaSettings:
        if self.network == "custom" and not self.nodes:
            raise ValueError('a custom Hedera network needs nodes: {"host:port": "0.0.3"}')
        for address, account in self.nodes.items():
            if ":" not in address or not re.match(HEDERA_ACCOUNT_PATTERN, account):
                raise ValueError(f"nodes: {address!r}: {account!r} is not host:port: 0.0.N")
        if self.min_backoff_s > self.max_backoff_s:
            raise ValueError("min_backoff_s must not exceed max_backoff_s")
        return self


class DockerSettings(BaseModel):
    """Limits of every miner container the ``docker`` runtime runs (``TENSORNODE_DOCKER__...``)."""

    memory: str = Field("4g", pattern=r"^\d+[bkmg]?$", description="docker run --memory")
    cpus: float = Field(2.0, gt=0, description="docker run --cpus")
    pids_limit: int = Field(512, ge=16, description="docker run --pids-limit")
    user: str = Field(
        "65534:65534", pattern=r"^[0-9]+(:[0-9]+)?$", description="non-root uid[:gid]"
    )
    network: str = Field(
        "tensornode-miners",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
        description="the miners' bridge network: no route to the host, database or metadata",
    )
    subnet: str = Field("10.213.0.0/24", description="that network's subnet")
    bridge: str = Field(
        "tn-miners0",
        pattern=r"^[A-Za-z0-9_.-]{1,15}$",
        description="the Linux bridge of that network (the firewall rules name it)",
    )
    firewall: bool = Field(
        True,
        description="install the host firewall rules (iptables) that keep miners from the"
        " host and private/link-local addresses; off only where the host's own firewall does",
    )


class LocalProviderSettings(BaseModel):
    """The ``local`` provider: this machine as the host of every VM."""

    launch_seconds: float = Field(0.2, ge=0.0, description="a new VM's launching phase")
    port_range_start: int = Field(20000, ge=1024, le=65535, description="first host port")
    port_range_end: int = Field(29999, ge=1024, le=65535, description="last host port")


class SSHSettings(BaseModel):
    """How the coordinator reaches remote hosts (Fluence VMs, ``ssh`` provider servers)."""

    connect_timeout_s: float = Field(20.0, gt=0, description="TCP connect + SSH handshake")
    keepalive_s: float = Field(30.0, gt=0, description="keepalive period of open connections")
    key_path: Path | None = Field(
        None, description="the coordinator's private key (default: data_dir/ssh/id_ed25519)"
    )
    known_hosts_path: Path | None = Field(
        None, description="host keys pinned on first use (default: data_dir/ssh/known_hosts)"
    )
    exec_timeout_s: float = Field(60.0, gt=0, description="default limit of POST /vms/{id}/exec")
    exec_max_timeout_s: float = Field(600.0, gt=0, description="largest limit a caller may ask")
    docker_install_script: str = Field(
        "curl -fsSL https://get.docker.com | sh",
        description="run as root on a host without Docker (empty: never install)",
    )


class SSHHostSettings(BaseModel):
    """One server of the ``ssh`` provider: a machine its owner already has."""

    name: str = Field(..., min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    host: str = Field(..., min_length=1, max_length=253)
    port: int = Field(22, ge=1, le=65535)
    user: str = Field("root", min_length=1, max_length=64)
    key_path: Path | None = Field(None, description="private key; default: the coordinator's")
    configuration: str = Field("custom", description="the configuration slug it is offered as")
    price_per_epoch_usd: Decimal = Field(Decimal("0"), ge=0)
    vcpus: int = Field(0, ge=0)
    ram_gb: int = Field(0, ge=0)
    storage_gb: int = Field(0, ge=0)
    workdir: str = Field("tensornode", description="VM directories, relative to the login home")


class RemoteMinerSettings(BaseModel):
    """The builtin miner on remote hosts: how tensornode is installed there."""

    python: str = Field("python3", description="the host's interpreter that makes the venv")
    venv_args: list[str] = Field(default_factory=list, description="e.g. --system-site-packages")
    pip_args: list[str] = Field(
        default_factory=list, description="e.g. --index-url https://mirror/simple"
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="variables every remote miner gets (HF_TOKEN, ...)"
    )


class SSHProviderSettings(BaseModel):
    """The ``ssh`` provider: each configured host is one VM at a time."""

    hosts: list[SSHHostSettings] = Field(default_factory=list)


class FluenceSettings(BaseModel):
    """The ``fluence`` provider: Fluence's VM marketplace API (``TENSORNODE_FLUENCE__...``)."""

    api_url: str = Field("https://api.fluence.dev", description="API base URL")
    vms_path: str = Field("/vms/v3", description="the VM routes' version path")
    api_key: SecretStr | None = Field(None, description="Fluence API key (never logged)")
    auth_header: Literal["X-API-KEY", "Authorization"] = Field(
        "X-API-KEY", description="X-API-KEY: <key>, or Authorization: Bearer <key> (before 2026)"
    )
    timeout_s: float = Field(30.0, gt=0, description="one API request")
    retries: int = Field(3, ge=0, description="retries of a 5xx or network error")
    backoff_s: float = Field(0.5, ge=0, description="first retry delay; doubles")
    os_image: str | None = Field(None, description="OS image URL (default: Fluence's default)")
    datacenter_countries: list[str] = Field(
        default_factory=list, description="ISO country codes a VM may be placed in"
    )
    ssh_user: str = Field("ubuntu", description="Fluence images boot with this user")
    ssh_port: int = Field(22, ge=1, le=65535)
    ssh_key_name: str = Field("tensornode-coordinator", description="name of the registered key")
    workdir: str = Field("tensornode", description="VM directories, relative to the login home")
    prices_cache_s: float = Field(300.0, ge=0, description="how long configurations are kept")


class ValidatorSettings(BaseModel):
    """The validator's rounds, penalties and optional LLM judge."""

    subnets: list[str] = Field(default_factory=lambda: ["llm"], description="subnets to validate")
    round_interval_s: float = Field(300.0, gt=0, description="time between two rounds")
    timeout_s: float = Field(10.0, gt=0, description="per-request deadline, from when it is sent")
    concurrency: int = Field(64, ge=1, description="probes in flight across miners")
    challenges_per_round: int | None = Field(None, ge=1, description="default: the subnet's")
    pass_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="challenge score that counts as passed (subnet's)"
    )
    weights: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description='per-subnet component weights, e.g. {"llm": {"quality": 0.5, ...}}',
    )
    copy_min_words: int = Field(6, ge=1, description="shorter open answers may coincide")
    copy_min_group: int = Field(2, ge=2, description="miners sharing an answer = copying")
    evidence_chars: int = Field(200, ge=20, description="answer characters kept as evidence")
    send_seed: bool = Field(False, description="add a per-miner seed to probe requests")
    embedding_device: str = Field("cpu", description="torch device of the MiniLM scorer")
    overlap_embedding: bool = Field(
        False, description="encode open answers while probing (needs spare cores or a GPU)"
    )
    judge_url: str | None = Field(
        None, description="OpenAI-compatible base URL of an LLM judge; off when unset"
    )
    judge_model: str = "gpt-4o-mini"
    judge_api_key: SecretStr | None = None
    judge_timeout_s: float = Field(30.0, gt=0)
    question_bank: Path | None = Field(
        None,
        description="private JSONL bank of open questions with reference answers; without"
        " one rounds are generated tasks only (the shipped sample is public, never scored)",
    )
    seed_ttl_s: float = Field(900.0, gt=0, description="how long an issued round seed is valid")
    traffic_sample_rate: float = Field(
        0.02, ge=0.0, le=1.0, description="share of answered gateway requests graded"
    )
    traffic_per_round: int = Field(
        32, ge=0, description="sampled user requests graded per in-process round"
    )
    traffic_references: int = Field(
        3, ge=2, description="other miners re-asked per sampled request"
    )
    in_process: bool = Field(True, description="run the validator loop in the coordinator")
    account: str = Field(
        "0.0.1002", pattern=HEDERA_ACCOUNT_PATTERN, description="the in-process validator's account"
    )
    accounts: list[str] = Field(
        default_factory=list, description="accounts allowed to validate (besides the registry)"
    )


class GatewaySettings(BaseModel):
    """The gateway: routing users' prompts to miners (``TENSORNODE_GATEWAY__...``)."""

    default_model_type: str = Field("llm", description="model type of a bare POST /api/chat")
    max_tokens: int = Field(2048, ge=1, description="largest max_tokens a user may ask for")
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="largest request body")
    deadline_s: float = Field(60.0, gt=0, description="a request's total time, retries included")
    attempt_timeout_s: float = Field(30.0, gt=0, description="one miner's time to answer")
    max_attempts: int = Field(3, ge=1, description="miners tried per request")
    refresh_interval_s: float = Field(1.0, gt=0, description="candidate set refresh period")
    default_max_concurrency: int = Field(
        8, ge=1, description="requests in flight per miner when its /info declares none"
    )
    exploration: float = Field(0.05, ge=0.0, le=1.0, description="share of random picks")
    breaker_failures: int = Field(3, ge=1, description="consecutive failures that cool down")
    breaker_cooldown_s: float = Field(2.0, gt=0, description="first cooldown; doubles")
    breaker_cooldown_cap_s: float = Field(120.0, gt=0)
    rate_limit_per_min: float = Field(
        60.0, gt=0, description="requests per minute per account (a key may only lower it)"
    )
    max_keys_per_account: int = Field(20, ge=1, description="unrevoked keys an account may hold")
    rate_limit_burst: int | None = Field(None, ge=1, description="bucket size; default: 1 min")
    key_cache_s: float = Field(5.0, ge=0, description="how long a key lookup is trusted")
    flush_interval_s: float = Field(1.0, gt=0, description="metrics batch period")
    flush_max_samples: int = Field(
        10_000,
        ge=1,
        description="metrics batch size (a flush costs ~2.5 ms of CPU however small it is)",
    )
    score_window_s: float = Field(3600.0, gt=0, description="validator scores over this past")
    score_refresh_s: float = Field(60.0, gt=0, description="how often scores are re-read")


class AuthSettings(BaseModel):
    """Wallet sign-in: challenge and session lifetimes, where account keys come from."""

    session_ttl_s: int = Field(12 * 3600, ge=60, description="a session's lifetime")
    challenge_ttl_s: int = Field(300, ge=10, le=3600, description="a challenge's lifetime")
    key_source: Literal["ledger", "mirror"] = Field(
        "ledger", description="ledger: keys registered locally (dev, local); mirror: Hedera"
    )
    mirror_url: str = Field(
        "https://testnet.mirrornode.hedera.com", description="Hedera mirror node REST base URL"
    )
    mirror_timeout_s: float = Field(10.0, gt=0)
    mirror_cache_ttl_s: float = Field(300.0, ge=0, description="how long a fetched key is kept")
    network_name: str = Field("TensorNode", min_length=1, max_length=100)
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#\s]+/?$",
        description="the URL named in challenges (scheme://host[:port]); required outside"
        " dev mode (dev mode: the request's Host header)",
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="extra origins trusted for cookie sessions (CSRF)"
    )
    secure_cookies: bool | None = Field(
        None, description="Secure cookies; default: on unless dev mode or loopback"
    )
    faucet_amount: int = Field(
        10_000_000_000, ge=0, description="dev faucet funds for a newly registered wallet"
    )
    attempts_per_ip: int = Field(30, ge=1, description="sign-in calls per IP per window")
    attempts_per_account: int = Field(
        10, ge=1, description="sign-in calls per account from one address (never a lockout)"
    )
    rate_window_s: float = Field(60.0, gt=0)


class Settings(BaseSettings):
    """TensorNode's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="TENSORNODE_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    dev_mode: bool = Field(
        False, description="accept a bare walletAddress and loopback URLs; never in production"
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    miner: MinerSettings = Field(default_factory=MinerSettings)
    local_provider: LocalProviderSettings = Field(default_factory=LocalProviderSettings)
    ssh: SSHSettings = Field(default_factory=SSHSettings)
    ssh_provider: SSHProviderSettings = Field(default_factory=SSHProviderSettings)
    remote_miner: RemoteMinerSettings = Field(default_factory=RemoteMinerSettings)
    fluence: FluenceSettings = Field(default_factory=FluenceSettings)
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite at data_dir/tensornode.db"
    )
    coordinator: CoordinatorSettings = Field(default_factory=CoordinatorSettings)
    validator: ValidatorSettings = Field(default_factory=ValidatorSettings)
    rewards: RewardsSettings = Field(default_factory=RewardsSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    hedera: HederaSettings = Field(default_factory=HederaSettings)

    docker: DockerSettings = Field(default_factory=DockerSettings)

    def production_problems(self) -> list[str]:
        """What makes these settings unsafe outside dev mode (empty: none, or dev mode)."""
        if self.dev_mode:
            return []
        problems = [
            f"{name} is the dev placeholder {value}: set TENSORNODE_{env} to your own account"
            for name, value, env in (
                ("rewards.pool_account", self.rewards.pool_account, "REWARDS__POOL_ACCOUNT"),
                (
                    "rewards.treasury_account",
                    self.rewards.treasury_account,
                    "REWARDS__TREASURY_ACCOUNT",
                ),
                ("validator.account", self.validator.account, "VALIDATOR__ACCOUNT"),
            )
            if value in PLACEHOLDER_ACCOUNTS
        ]
        if self.auth.public_url is None:
            problems.append(
                "auth.public_url is unset: set TENSORNODE_AUTH__PUBLIC_URL to the URL users"
                " reach this coordinator at (sign-in challenges name it)"
            )
        if self.coordinator.provider == "local" and not self.coordinator.allow_local_provider:
            problems.append(
                "the local provider runs miners on this coordinator's own host: choose another"
                " provider (TENSORNODE_COORDINATOR__PROVIDER) or opt in with"
                " TENSORNODE_COORDINATOR__ALLOW_LOCAL_PROVIDER=true"
            )
        return problems

    def check_production(self) -> None:
        """ConfigurationError listing every unsafe setting, outside dev mode."""
        problems = self.production_problems()
        if problems:
            raise ConfigurationError("refusing to start outside dev mode: " + "; ".join(problems))

    def ensure_data_dir(self) -> Path:
        """Create the data directory (0700) and return it."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
