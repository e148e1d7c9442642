from __future__ import annotations

from typing import Self

from aiohttp import web


class LoopbackServer:
    """An aiohttp app served on 127.0.0.1 only: the shared lifecycle of the stand-ins of outside APIs."""

    name = "stand-in"

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    def _build_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> str:
        """Serve on 127.0.0.1 and return the base URL, e.g. `http://127.0.0.1:54321`."""
        if self._runner is not None:
            raise RuntimeError(f"The {self.name} is already running.")
        runner = web.AppRunner(self._build_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self._port).start()
        self._runner = runner
        self._base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        return self._base_url

    async def _before_stop(self) -> None:
        """Hook: release whatever waits on the server (long polls) before it stops."""

    async def stop(self) -> None:
        """Stop serving; what the stand-in recorded stays readable."""
        if self._runner is None:
            return
        await self._before_stop()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError(f"The {self.name} has not been started.")
        return self._base_url
