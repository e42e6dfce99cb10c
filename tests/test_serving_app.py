"""The shared serving app's limits over raw sockets (no TensorFlow needed): oversized bodies get 413, stalled
bodies 408, malformed Content-Length 400, unknown paths 404 and wrong methods 405, all as answers (never a
dropped connection), every error as {"error": ...}, and the server still serves afterwards. Issue 7 measured the
http.server version accepting a 200 MB body, hanging forever on a short body, and dropping the connection on a
Content-Length of `abc` or `-5`."""

import json
import socket

import pytest
from fastapi import APIRouter, Request

from genai_roadmap.errors import UserError
from genai_roadmap.serving.app import create_app
from genai_roadmap.serving.server import Server

LIMIT = 1000


def _echo_router() -> APIRouter:
    router = APIRouter()

    @router.post("/echo")
    async def echo(request: Request) -> dict:
        return {"bytes": len(await request.body())}

    return router


@pytest.fixture(scope="module")
def server():
    with Server(create_app(_echo_router(), max_body_bytes=LIMIT, body_timeout_s=1.0), port=0) as running:
        yield running


def _raw(server, head: str, body: bytes = b"") -> tuple[int, dict, str]:
    """Send bytes as they are; read until the server closes. (status, JSON body or {}, raw head)."""
    host, port = server.sock.getsockname()[:2]
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    assert data, "the server dropped the connection without an answer"
    head_part, _, payload = data.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1])
    is_json = b"application/json" in head_part.lower()
    return status, json.loads(payload) if is_json else {}, head_part.decode(errors="replace")


def _post(length: str, extra: str = "") -> str:
    return f"POST /echo HTTP/1.1\nHost: x\nConnection: close\nContent-Length: {length}\n{extra}"


def test_a_body_within_the_limit_is_served(server):
    assert _raw(server, _post(str(LIMIT)), b"x" * LIMIT)[:2] == (200, {"bytes": LIMIT})


def test_an_announced_oversized_body_gets_413_before_it_is_sent(server):
    status, reply, _ = _raw(server, _post("200000000"))  # 200 MB announced, none sent
    assert status == 413 and "over the limit of 1000 bytes" in reply["error"]


def test_a_streamed_oversized_body_gets_413(server):
    chunks = b"".join(b"%x\r\n%s\r\n" % (200, b"x" * 200) for _ in range(8)) + b"0\r\n\r\n"  # 1,600 bytes, chunked
    status, reply, _ = _raw(server, "POST /echo HTTP/1.1\nHost: x\nConnection: close\nTransfer-Encoding: chunked\n",
                            chunks)
    assert status == 413 and "over the limit" in reply["error"]


def test_a_body_shorter_than_its_content_length_gets_408(server):
    status, reply, _ = _raw(server, _post("100"), b"only 15 bytes..")
    assert status == 408 and "did not arrive within 1 s (15 bytes came)" in reply["error"]
    assert _raw(server, _post("2"), b"ok")[:2] == (200, {"bytes": 2})  # and the server goes on serving


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "5, 6"])
def test_a_malformed_content_length_gets_400_not_a_dropped_connection(server, length):
    assert _raw(server, _post(length), b"hello")[0] == 400


def test_unknown_paths_and_wrong_methods_get_error_json(server):
    status, reply, _ = _raw(server, "GET /nowhere HTTP/1.1\nHost: x\nConnection: close\n")
    assert (status, reply) == (404, {"error": "Malformed request: GET /nowhere"})
    status, reply, head = _raw(server, "GET /echo HTTP/1.1\nHost: x\nConnection: close\n")
    assert (status, reply) == (405, {"error": "Malformed request: GET /echo"}) and "\r\nallow: post\r\n" in head.lower()


def test_openapi_schema_lists_the_routes(server):
    status, schema, _ = _raw(server, "GET /openapi.json HTTP/1.1\nHost: x\nConnection: close\n")
    assert status == 200 and "/echo" in schema["paths"]


def test_a_busy_port_is_one_clear_error(server):
    port = server.sock.getsockname()[1]
    with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}"):
        Server(create_app(), port=port)
