"""System packages, and the service behind the alarms feed, for ``pwsk standalone``.

* ``/whisk.system/utils`` (``utils/``): the catalog's actions that shape data;
* ``/whisk.system/alarms`` (``feeds/``): the alarms feed actions, served by the provider in
  ``alarms.py`` (schedules in ``schedule.py`` and ``cron.py``) through ``endpoint.py``.

Both packages are shared. ``SystemServices`` is the part standalone runs: ``start`` after the
invoker (before the API serves: ``catalog.install`` writes the store directly), ``stop``
before the invoker stops.
"""

from __future__ import annotations

from pwsk import log
from pwsk.settings import Settings
from pwsk.store import Store

from . import catalog, feeds, utils
from .alarms import AlarmsProvider
from .endpoint import Endpoint, port_of

__all__ = ["SystemServices"]

logger = log.get("pwsk.system")


class SystemServices:
    def __init__(self, settings: Settings, store: Store, host: str = "127.0.0.1") -> None:
        self.store = store
        self.provider = AlarmsProvider(store, settings.api_host)
        self.endpoint = Endpoint(self.provider, host)

    async def start(self) -> None:
        await self._install(utils.package())
        previous = await catalog.parameter(self.store, "alarms", "package_endpoint")
        await self.provider.start()
        url = await self.endpoint.start(preferred_port=port_of(previous))
        await self._install(feeds.package(url))

    async def stop(self) -> None:
        """Idempotent, and safe when ``start`` never ran or failed half-way."""
        await self.endpoint.stop()
        await self.provider.stop()

    async def _install(self, spec: catalog.PackageSpec) -> None:
        try:
            await catalog.install(self.store, spec)
        except catalog.CatalogError as exc:
            logger.error("system package not installed", package=spec.name, error=str(exc))
