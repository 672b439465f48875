"""Settings for every service, from ``PWSK_*`` environment variables (pydantic-settings).

Engines are picked by URL-like values so one code base serves both deployments:
``PWSK_STORE=sqlite:///var/lib/pwsk/pwsk.db`` or ``couchdb://…``, ``PWSK_BUS=memory://`` or
``kafka://…``, ``PWSK_CONTAINERS=process|docker|auto``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PWSK_", extra="ignore")

    store: str = "sqlite://:memory:"
    bus: str = "memory://"
    registry: str = "local://"
    # lean: one in-process invoker (standalone); sharding: spec 6.1 over the registry's
    # invokers; auto: lean with the local registry, sharding otherwise.
    balancer: str = "auto"
    containers: str = "process"
    # Docker backend: the bridge network action containers join (created if missing).
    docker_network: str = "pwsk"

    controller_id: int = 0
    # Controllers in the deployment: each takes 1/cluster_size of every invoker's memory.
    cluster_size: int = Field(default=1, ge=1)
    invoker_id: int = 0
    # Stable name an invoker claims its id with (default: host name and the data dir).
    invoker_name: str = ""
    port: int = Field(default=10001, ge=1, le=65535)
    # One controller of a deployment installs the system packages and runs the alarms
    # provider; its endpoint must be reachable from action containers (system_host).
    system_services: bool = False
    system_host: str = "127.0.0.1"
    # What actions see as __OW_API_HOST; standalone sets it to its own address.
    api_host: str = "http://127.0.0.1:3233"

    # Container pool (spec 6.3): memory budget, idle pause and removal, stem cells.
    user_memory_mb: int = Field(default=2048, ge=128)
    pause_grace_s: float = Field(default=10.0, ge=0)
    idle_timeout_s: float = Field(default=600.0, gt=0)
    prewarm: str = "python:3.11=1,nodejs:20=1"
    # How long log collection waits for the proxy's sentinels after a run returns.
    log_sentinel_wait_s: float = Field(default=2.0, gt=0)
    container_start_timeout_s: float = Field(default=30.0, gt=0)

    # The initial keys (``uuid:key``) of ``guest`` and ``whisk.system``, created on the first
    # start; empty: OpenWhisk's well-known development keys. With refuse_default_keys (set by
    # docker-compose.yml) a controller will not start with a missing or well-known key.
    guest_key: SecretStr = SecretStr("")
    system_key: SecretStr = SecretStr("")
    refuse_default_keys: bool = False

    max_blocking_wait_ms: int = Field(default=60_000, gt=0)
    # Default throttles for namespaces without their own limits document (spec 6.4).
    invocations_per_minute: int = 60
    concurrent_invocations: int = 30
    fires_per_minute: int = 60

    def prewarm_counts(self) -> dict[str, int]:
        """``"python:3.11=1,nodejs:20=2"`` → ``{"python:3.11": 1, "nodejs:20": 2}``."""
        out: dict[str, int] = {}
        for part in self.prewarm.split(","):
            kind, _, count = part.strip().partition("=")
            if kind:
                out[kind] = int(count or 1)
        return out
