#!/usr/bin/env python3
"""Plain WebSocket client for brokerd's /api/v1/ws/ streams (Debian's
python3-websockets), driven by TestPythonWebSocketClient.

usage: ws_client.py WS_BASE TOKEN PATTERN COUNT

Prints one JSON line per step:
  {"unauthorized": <HTTP status>}         connecting without a token
  {"snapshot": [ids], "last": true}       the initial snapshot
  READY                                   (plain line) the Go side may write now
  {"change": {...}}                       COUNT stateChange messages
  {"stats": {...}}                        one message of system/stats
"""
import asyncio
import json
import sys

import websockets


def out(obj):
    print(obj if isinstance(obj, str) else json.dumps(obj), flush=True)


async def connect(url, token):
    headers = {"Authorization": "Bearer " + token} if token else {}
    try:  # websockets >= 14 renamed the argument
        return await websockets.connect(url, additional_headers=headers, max_size=None)
    except TypeError:
        return await websockets.connect(url, extra_headers=headers, max_size=None)


async def main(base, token, pattern, count):
    try:
        ws = await connect(base + "/api/v1/ws/states?pattern=" + pattern, "")
        await ws.close()
        out({"unauthorized": 101})
    except websockets.exceptions.InvalidStatusCode as e:
        out({"unauthorized": e.status_code})
    except Exception as e:  # newer versions: InvalidStatus
        resp = getattr(e, "response", None)
        out({"unauthorized": getattr(resp, "status_code", str(e))})

    ws = await connect(base + "/api/v1/ws/states?pattern=" + pattern, token)
    ids = []
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert msg["type"] == "snapshot", msg
        ids.extend(msg["states"].keys())
        if msg["last"]:
            break
    out({"snapshot": sorted(ids), "last": True})
    out("READY")
    for _ in range(count):
        out({"change": json.loads(await asyncio.wait_for(ws.recv(), 10))})
    await ws.close()

    stats = await connect(base + "/api/v1/ws/system/stats", token)
    out({"stats": json.loads(await asyncio.wait_for(stats.recv(), 10))})
    await stats.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
