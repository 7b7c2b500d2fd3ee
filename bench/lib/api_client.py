"""Benchmark client of the subwire local API, the counterpart of bench/lib/client.ts:
/usr/bin/python3 bench/lib/api_client.py <api.sock> <dest multiaddr> <pids,comma,separated> <plan JSON>

The Python client (clients/python) on its peer's Unix socket asks that peer to query
`dest`'s `echo` over QUIC: Python -> API -> peer -> network -> peer and back. Prints one
JSON result line of the shape client.ts prints (cold, rows with sequential and load<N>).
"""
import asyncio
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
import subwire  # noqa: E402

sock, dest, pids_arg, plan_arg = sys.argv[1:5]
pids = [int(p) for p in pids_arg.split(",") if p]
plan = json.loads(plan_arg)
TICK_MS = 10


def proc_cpu_ms(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split(" ")
    return (int(fields[11]) + int(fields[12])) * TICK_MS


def loopback_bytes() -> int:
    with open("/proc/net/dev") as f:
        for line in f:
            if line.strip().startswith("lo:"):
                return int(line.split(":")[1].split()[0])
    return 0


def peak_rss_mib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return 0


def quantiles(xs: list) -> dict:
    s = sorted(xs)
    q = lambda f: round(s[min(len(s) - 1, int(f * len(s)))], 3) if s else float("nan")  # noqa: E731
    return {"p50": q(0.5), "p95": q(0.95), "p99": q(0.99), "n": len(s)}


async def main() -> None:
    result: dict = {"kind": "python-api", "transport": "quic"}
    cold = []
    for _ in range(plan["cold"]):
        t0 = time.perf_counter()
        c = await subwire.connect(sock)
        await c.query(dest, "echo", bytes(1024))
        cold.append((time.perf_counter() - t0) * 1000)
        await c.close()
    result["cold"] = quantiles(cold)
    client = await subwire.connect(sock)
    rows = []
    for size in plan["payloads"]:
        p = bytes(i & 0xff for i in range(size))
        for _ in range(20):
            await client.query(dest, "echo", p)
        seq = []
        for _ in range(plan["sequential"]):
            t0 = time.perf_counter()
            await client.query(dest, "echo", p)
            seq.append((time.perf_counter() - t0) * 1000)
        row: dict = {"size": size, "sequential": quantiles(seq)}
        for inflight in plan["inflight"]:
            lat: list = []
            count = 0
            io0 = loopback_bytes()
            cpu0 = sum(proc_cpu_ms(pid) for pid in pids)
            self0 = time.process_time()
            t0 = time.perf_counter()
            end = t0 + plan["durationMs"] / 1000

            async def worker() -> None:
                nonlocal count
                while time.perf_counter() < end:
                    s = time.perf_counter()
                    await client.query(dest, "echo", p)
                    lat.append((time.perf_counter() - s) * 1000)
                    count += 1
            await asyncio.gather(*(worker() for _ in range(inflight)))
            secs = time.perf_counter() - t0
            cpu = (time.process_time() - self0) * 1000 + sum(proc_cpu_ms(pid) for pid in pids) - cpu0
            row[f"load{inflight}"] = {"reqPerSec": round(count / secs), "latency": quantiles(lat), "wireBytesPerReq": round((loopback_bytes() - io0) / count),
                                      "cpuUsPerReq": round(cpu * 1000 / count), "requests": count}
        rows.append(row)
    await client.close()
    result["rows"] = rows
    result["peakRssMiB"] = {"client": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "server": sum(peak_rss_mib(pid) for pid in pids)}
    print(json.dumps(result))

asyncio.run(main())
