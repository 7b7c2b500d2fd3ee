"""A validator in 20 lines: serve "score", query a miner back, send it a file, print its messages.

    subwire listen &                                   # this home's peer (~/.subwire or $SUBWIRE_HOME)
    python3 clients/python/examples/validator.py /ip4/127.0.0.1/udp/4801/quic-v1/p2p/12D3Koo… ./weights.bin
"""
import asyncio
import sys

import subwire


async def main(miner: str, path: str) -> None:
    client = await subwire.connect()

    @client.handler("score")
    async def score(body, caller: subwire.Caller):
        return {"for": caller.ss58, "netuid": caller.netuid, "uid": (body or {}).get("uid")}
    await client.ready()
    async with client.events(["message"]) as events:
        print("echo:", await client.query(miner, "echo", {"hello": 1}, timeout=5))
        sent = await client.send_file(miner, path, on_progress=lambda p: print(f"  {p.phase} {p.bytes}/{p.total}"))
        print("sent", sent["name"], sent["blake3"])
        async for event in events:
            print("message from", event["from"], event["action"], event["payload"])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
