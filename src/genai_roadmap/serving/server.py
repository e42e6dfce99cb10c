"""uvicorn around an app: in the foreground until Ctrl-C (`roadmap serve ...`), or in a thread for a run or a test.

    with Server(app, port=0) as server:      # port 0 = any free port; server.url says which
        client.predict(server.url, ...)

The socket is bound here rather than by uvicorn, so a busy port is one clear error before anything starts, and
port 0 tells its real number at once. uvicorn's listen backlog (2048) is what lets 64 clients connect at once;
http.server's was 5.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from ..errors import UserError

START_TIMEOUT_S = 60.0


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop (TIME_WAIT)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None
    return sock


class Server:
    """An ASGI app under uvicorn on host:port. `foreground=True` prints uvicorn's startup and access log."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 8501, foreground: bool = False) -> None:
        self.sock = bind(host, port)
        bound_host, bound_port = self.sock.getsockname()[:2]
        self.url = f"http://[{bound_host}]:{bound_port}" if ":" in bound_host else f"http://{bound_host}:{bound_port}"
        config = uvicorn.Config(app, log_level="info" if foreground else "warning", access_log=foreground,
                                # In a thread, leave the host program's logging alone.
                                log_config=uvicorn.config.LOGGING_CONFIG if foreground else None)
        self.uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        """Until Ctrl-C or SIGTERM (uvicorn handles both and finishes the requests in flight)."""
        try:
            self.uvicorn.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def start(self) -> Server:
        self._thread = threading.Thread(target=self.uvicorn.run, kwargs={"sockets": [self.sock]},
                                        name="uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the HTTP server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.uvicorn.should_exit = True
            self._thread.join(timeout=START_TIMEOUT_S)
            self._thread = None
        self.sock.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
