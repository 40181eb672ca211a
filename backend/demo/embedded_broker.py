"""`python -m backend.demo.embedded_broker PORT`: amqtt on 127.0.0.1, the demo's fallback."""
from __future__ import annotations

import asyncio
import signal
import sys

from amqtt.broker import Broker


async def serve(port: int) -> None:
    broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
                     "sys_interval": 0, "auth": {"allow-anonymous": True}})
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await broker.shutdown()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
