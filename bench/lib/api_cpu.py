"""One measurement of the local API path (bench/lib/api_ab.sh runs it): the Python client of the tree argv[5]"""
# python client (tree argv[5]) on API socket argv[1] queries dest argv[2] type argv[4]
# with 32 in flight for 3 s; prints req/s and CPU us/req of the Python client and of each pid in argv[3]
import asyncio, os, sys, time, json
sys.path.insert(0, sys.argv[5])
import subwire
sock, dest, pids, typ = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3].split(",") if p], sys.argv[4]
def cpu(pid):
    s = open(f"/proc/{pid}/stat").read(); f = s[s.rindex(")") + 2:].split(" ")
    return (int(f[11]) + int(f[12])) * 10
async def main():
    c = await subwire.connect(sock)
    p = bytes(1024)
    for _ in range(300): await c.query(dest, typ, p)
    count = 0
    c0 = [cpu(x) for x in pids]; s0 = time.process_time(); t0 = time.perf_counter(); end = t0 + 3
    async def w():
        nonlocal count
        while time.perf_counter() < end:
            await c.query(dest, typ, p); count += 1
    await asyncio.gather(*(w() for _ in range(32)))
    secs = time.perf_counter() - t0
    print(json.dumps({"reqps": round(count / secs), "py": round((time.process_time() - s0) * 1e6 / count), "pids": [round((cpu(pid) - a) * 1000 / count) for pid, a in zip(pids, c0)], "load": os.getloadavg()[0]}))
    await c.close()
asyncio.run(main())
