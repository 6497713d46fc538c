"""WebSocket through drover (issue 8): a real client and server (python3-websockets).
The member answers 101 and the two connections become a byte tunnel."""
import asyncio
import threading

import pytest

import drover as dr

websockets = pytest.importorskip("websockets", reason="python3-websockets is not installed")


class WsServer:
    """An echo WebSocket server on a loopback port, run in its own thread.
    A text message "close-me" makes the server close the connection."""

    def __init__(self):
        self.port = None
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise dr.HarnessError("websocket server did not start")

    async def _handler(self, ws, path=None):
        try:
            async for msg in ws:
                if msg == "close-me":
                    await ws.close(code=4000, reason="server closes")
                    return
                await ws.send(msg)
        except websockets.ConnectionClosed:
            pass

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def main():
            self.server = await websockets.serve(self._handler, dr.LOOPBACK, 0, max_size=None)
            self.port = self.server.sockets[0].getsockname()[1]
            self.ready.set()
            await self.server.wait_closed()

        self.loop.run_until_complete(main())

    def stop(self):
        self.loop.call_soon_threadsafe(self.server.close)
        self.thread.join(10)


@pytest.fixture
def ws_server():
    s = WsServer()
    yield s
    s.stop()


def ws_proxy(drover, ws_server, **server):
    conf = {"ProxyPass": "/ws http://127.0.0.1:%d/ws" % ws_server.port}
    conf.update(server)
    return drover(server=conf)


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_text_and_binary_echo(drover, ws_server):
    d = ws_proxy(drover, ws_server)

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/ws/chat" % d.port) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send(b"\x00\x01\xff binary")
            assert await ws.recv() == b"\x00\x01\xff binary"
            for i in range(50):
                await ws.send("m%d" % i)
                assert await ws.recv() == "m%d" % i

    run(go())
    d.wait_access_log(r'"GET /ws/chat HTTP/1\.1" 101 ')


def test_ten_mib_message(drover, ws_server):
    d = ws_proxy(drover, ws_server)
    big = dr.pattern(10 * 1024 * 1024)

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/ws" % d.port, max_size=None) as ws:
            await ws.send(big)
            got = await ws.recv()
            assert len(got) == len(big) and got == big

    run(go())


def test_close_from_client_and_from_server(drover, ws_server):
    d = ws_proxy(drover, ws_server)

    async def go():
        ws = await websockets.connect("ws://127.0.0.1:%d/ws" % d.port)
        await ws.send("x")
        assert await ws.recv() == "x"
        await ws.close()
        assert ws.close_code == 1000
        ws = await websockets.connect("ws://127.0.0.1:%d/ws" % d.port)
        await ws.send("close-me")
        with pytest.raises(websockets.ConnectionClosed) as exc:
            await ws.recv()
        assert exc.value.rcvd.code == 4000

    run(go())
    # Both tunnels ended and were logged.
    dr.wait_until(lambda: d.access_log().count('" 101 ') == 2, what="two tunnels in the access log")


def test_idle_tunnel_times_out(drover, ws_server):
    d = ws_proxy(drover, ws_server, Timeout="2", ProxyTimeout="2")

    async def go():
        ws = await websockets.connect("ws://127.0.0.1:%d/ws" % d.port, ping_interval=None)
        await ws.send("x")
        assert await ws.recv() == "x"
        # Nothing moves for longer than Timeout: drover closes the tunnel.
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)

    run(go())
    d.wait_error_log(r"websocket tunnel .* ended \((client|member) idle timeout\)")


def test_tunnel_outlives_reload(drover, ws_server):
    d = ws_proxy(drover, ws_server)

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/ws" % d.port) as ws:
            await ws.send("before")
            assert await ws.recv() == "before"
            old = set(d.worker_pids())
            await asyncio.get_running_loop().run_in_executor(None, d.reload)
            # The old worker is draining but keeps the tunnel open.
            await ws.send("after")
            assert await ws.recv() == "after"
            assert set(d.worker_pids()) & old
        # A new connection is served by the new generation.
        async with websockets.connect("ws://127.0.0.1:%d/ws" % d.port) as ws:
            await ws.send("new")
            assert await ws.recv() == "new"
        return old

    old = run(go())
    dr.wait_until(lambda: not set(d.worker_pids()) & old, timeout=10,
                  what="the old worker to exit once its tunnel closed")


def test_non_101_answer_is_plain_http(drover, backend):
    b = backend("A")
    d = drover(server={"ProxyPass": "/app %s/app" % b.url})
    r = dr.request(d.port, "GET", "/app/echo", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert r.status == 200 and r.header("X-Backend") == "A"
    seen = {k.lower(): v for k, v in r.json()["headers"]}
    assert seen.get("upgrade") == "websocket" and seen.get("connection") == "Upgrade"
    # A plain request after it works on a fresh connection.
    assert dr.request(d.port, "GET", "/app/x").status == 200
