"""Benchmark handler: serves RPC type `bench` (an echo) from Python through the local API.
/usr/bin/python3 bench/lib/api_handler.py <api.sock>   -> prints "ready" once registered."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
import subwire  # noqa: E402


async def main() -> None:
    client = await subwire.connect(sys.argv[1])

    @client.handler("bench")
    async def bench(body, caller):
        return body
    await client.ready()
    print("ready", flush=True)
    await client.serve_forever()

asyncio.run(main())
