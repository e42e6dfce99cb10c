"""TF Serving's REST API served locally over real HTTP (FastAPI on uvicorn): status, metadata, predict (row and
columnar), the TF-Serving-style errors, the bad requests of issue 7 (each a 4xx, never a 5xx or a dropped
connection), the highest version being served, and the `roadmap serve` / `roadmap predict` commands."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from genai_roadmap import registry
from genai_roadmap.cli import main
from genai_roadmap.errors import UserError
from genai_roadmap.runs import execute
from genai_roadmap.serving import client
from genai_roadmap.serving.tf_rest import TFServingServer, export_for_serving, find_versions, import_tf, load_latest


def _tiny_model(seed):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Versions 1 and 2 of a tiny model with different weights: the server must pick version 2."""
    try:
        import_tf()
    except UserError:
        pytest.skip("TensorFlow (the [tf] extra) is not installed")
    root = tmp_path_factory.mktemp("export")
    old, new = _tiny_model(1), _tiny_model(2)
    export_for_serving(old, root, "digits", 1)
    export_for_serving(new, root, "digits", 2)
    return root, old, new


@pytest.fixture(scope="module")
def url(exported):
    with TFServingServer(load_latest(exported[0], "digits"), port=0) as server:
        yield server.url


def _http(method, url, body=None):
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers["Content-Type"], json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], json.loads(exc.read())


def _images(n, seed=0):
    return np.random.default_rng(seed).random((n, 28, 28), dtype=np.float32)


def _strokes(n, seed=0):
    """Digit-like images: mostly black with a few bright strokes (as MNIST is)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 28, 28), np.float32)
    for img in x:
        for _ in range(3):
            r, c = rng.integers(4, 20, size=2)
            img[r:r + rng.integers(2, 8), c:c + rng.integers(2, 8)] = rng.uniform(0.6, 1.0)
    return x


AVAILABLE_V2 = {"model_version_status": [{"version": "2", "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}


def test_export_layout_is_tf_servings(exported):
    root = exported[0]
    assert find_versions(root / "digits") == [1, 2]
    assert (root / "digits" / "2" / "saved_model.pb").is_file() and (root / "digits" / "2" / "variables").is_dir()
    assert not [p for p in (root / "digits").iterdir() if p.name.startswith(".")]  # no temp folder left


@pytest.mark.parametrize("path", ["/v1/models/digits", "/v1/models/digits/versions/2"])
def test_model_status_is_tf_servings_json(url, path):
    assert _http("GET", url + path) == (200, "application/json", AVAILABLE_V2)


def test_metadata_describes_the_signature(url):
    code, _, body = _http("GET", url + "/v1/models/digits/metadata")
    assert code == 200 and body["model_spec"] == {"name": "digits", "signature_name": "", "version": "2"}
    sig = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["images"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in sig["inputs"]["images"]["tensor_shape"]["dim"]] == ["-1", "28", "28"]
    assert [d["size"] for d in sig["outputs"]["probabilities"]["tensor_shape"]["dim"]] == ["-1", "10"]


def test_row_format_serves_the_highest_version(url, exported):
    _, old, new = exported
    x = _images(5)
    code, _, body = _http("POST", url + "/v1/models/digits:predict", {"instances": x.tolist()})
    assert code == 200 and set(body) == {"predictions"}
    served = np.array(body["predictions"])
    assert served.shape == (5, 10)
    np.testing.assert_allclose(served, new.predict(x, verbose=0), atol=1e-6)
    assert np.abs(served - old.predict(x, verbose=0)).max() > 1e-3  # version 1 differs: it is not the one served
    code, _, again = _http("POST", url + "/v1/models/digits/versions/2:predict", {"instances": x.tolist()})
    assert code == 200 and again == body


def test_columnar_and_named_formats(url, exported):
    x = _images(3, seed=1)
    code, _, body = _http("POST", url + "/v1/models/digits:predict",
                          {"signature_name": "serving_default", "inputs": x.tolist()})
    assert code == 200 and set(body) == {"outputs"}
    np.testing.assert_allclose(np.array(body["outputs"]), exported[2].predict(x, verbose=0), atol=1e-6)
    code, _, named = _http("POST", url + "/v1/models/digits:predict", {"instances": [{"images": x[0].tolist()}]})
    assert code == 200 and np.allclose(named["predictions"][0], body["outputs"][0], atol=1e-6)
    code, _, columns = _http("POST", url + "/v1/models/digits:predict", {"inputs": {"images": x[:1].tolist()}})
    assert code == 200 and np.allclose(columns["outputs"][0], body["outputs"][0], atol=1e-6)


def _one_image_with(pixel: str) -> bytes:
    """A [1, 28, 28] request body whose last pixel is `pixel`, written as raw JSON text."""
    return ('{"instances": [' + json.dumps([[0.0] * 28] * 28)[:-5] + pixel + "]]]}").encode()


PREDICT = "/v1/models/digits:predict"


@pytest.mark.parametrize("method, path, body, status, message", [
    ("POST", PREDICT, b"{instances: [1", 400, "JSON Parse error"),
    ("POST", PREDICT, b"", 400, "JSON Parse error: The document is empty"),
    ("POST", PREDICT, b"[1, 2]", 400, "must be a JSON object"),
    ("POST", PREDICT, b"\xff\xfe{", 400, "JSON Parse error"),
    ("POST", PREDICT, {"instances": [[[0.0] * 27] * 28]}, 400, "instances[0][0]: List should have at least 28 items"),
    ("POST", PREDICT, {"instances": [[[0.0] * 28] * 28 + [[0.0] * 28]]}, 400, "at most 28 items"),
    ("POST", PREDICT, {"instances": [[[0.0, 1.0], [0.5]]]}, 400, "the signature takes images: float32 [?,28,28]"),
    ("POST", PREDICT, {"instances": [[[[0.0]] * 28] * 28]}, 400, "instances[0][0][0]: Input should be a valid number"),
    ("POST", PREDICT, {"instances": [["a"] * 28] * 28}, 400, "Input should be a valid list"),
    ("POST", PREDICT, {"instances": []}, 400, "instances: List should have at least 1 item"),
    ("POST", PREDICT, {"inputs": []}, 400, "inputs: List should have at least 1 item"),
    ("POST", PREDICT, {"inputs": {"pixels": []}}, 400, "inputs.images: Field required (and 1 more)"),
    ("POST", PREDICT, {"instances": [{"image": [[0.0] * 28] * 28}]}, 400, "instances[0].images: Field required"),
    ("POST", PREDICT, {"instances": [[[0.0] * 28] * 28], "extra": 1}, 400, "extra: Extra inputs are not permitted"),
    ("POST", PREDICT, {"examples": []}, 400, "Missing 'inputs' or 'instances' key"),
    ("POST", PREDICT, {"instances": [[[0.0] * 28] * 28], "inputs": []}, 400, "only one of"),
    ("POST", PREDICT, {"signature_name": "nope", "instances": []}, 400, 'Serving signature name: "nope" not found'),
    ("POST", PREDICT, {"signature_name": ["x"], "instances": []}, 400, "'signature_name' must be a string"),
    # Issue 7: each of these got a 200 and a prediction from the http.server version.
    ("POST", PREDICT, _one_image_with("null"), 400, "[27][27]: Input should be a valid number"),
    ("POST", PREDICT, _one_image_with("NaN"), 400, "[27][27]: Input should be a finite number"),
    ("POST", PREDICT, _one_image_with("Infinity"), 400, "[27][27]: Input should be a finite number"),
    ("POST", PREDICT, _one_image_with("1e400"), 400, "[27][27]: Input should be a finite number"),
    ("POST", PREDICT, _one_image_with("1e39"), 400, "less than or equal to 3402823466"),  # inf once cast to float32
    ("POST", PREDICT, _one_image_with('"0.5"'), 400, "[27][27]: Input should be a valid number"),
    ("POST", PREDICT, _one_image_with("true"), 400, "[27][27]: Input should be a valid number"),
    ("POST", PREDICT, _one_image_with("false"), 400, "[27][27]: Input should be a valid number"),
    # Issue 7: 200k-deep nesting closed the connection with no response.
    ("POST", PREDICT, b"[" * 200_000, 400, "JSON Parse error: nested too deeply"),
    ("POST", PREDICT, b'{"instances": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", 400, "nested too deeply"),
    ("POST", "/v1/models/digits:classify", {"examples": []}, 400, "only :predict"),
    ("POST", "/v1/models/nosuch:predict", {"instances": [1]}, 404, "Servable not found for request: Latest(nosuch)"),
    ("POST", "/v1/models/digits/versions/1:predict", {"instances": [1]}, 404,
     "Servable not found for request: Specific(digits, 1)"),
    ("GET", "/v1/models/nosuch", None, 404, "Could not find any versions of model nosuch"),
    ("GET", "/v1/models/digits/versions/1", None, 404, "Could not find version 1 of model digits"),
    ("GET", "/v1/models/nosuch/metadata", None, 404, "Servable not found for request: Latest(nosuch)"),
    ("GET", "/v1/models", None, 400, "Missing model name"),
    ("GET", "/v1/foo", None, 404, "Malformed request: GET /v1/foo"),
    ("GET", "/v1/models/digits/versions/x", None, 404, "Malformed request"),
    ("GET", PREDICT, None, 405, "Malformed request: GET /v1/models/digits:predict"),
    ("DELETE", "/v1/models/digits", None, 405, "Malformed request: DELETE /v1/models/digits"),
])
def test_bad_requests_get_tf_serving_errors(url, method, path, body, status, message):
    code, content_type, reply = _http(method, url + path, body)
    assert (code, content_type) == (status, "application/json")
    assert set(reply) == {"error"} and message in reply["error"] and "\n" not in reply["error"]


@pytest.mark.parametrize("head, status", [
    ("Content-Length: 200000000", 413),  # issue 7: a 200 MB body was accepted (the process grew to 3.3 GB)
    ("Content-Length: abc", 400),  # issue 7: these two closed the connection with no response
    ("Content-Length: -5", 400),
])
def test_the_digits_server_refuses_bad_bodies_with_an_answer(url, head, status):
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{head}\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    assert data.startswith(f"HTTP/1.1 {status} ".encode()), data[:200]


def test_non_finite_outputs_are_sent_as_null(url):
    """Pixels of 1e38 overflow the softmax to NaN: JSON has no NaN, so the reply carries null (not a 500)."""
    code, _, body = _http("POST", url + PREDICT, {"instances": [[[3e38, -3e38] * 14] * 28]})
    assert code == 200 and None in body["predictions"][0]
    assert np.isnan(client.predict(url, "digits", np.full((1, 28, 28), 3e38, np.float32))).any()


def test_predict_command_prints_the_served_digits(url, exported, tmp_path, capsys):
    from PIL import Image

    x = _strokes(3, seed=2)
    Image.fromarray((255 - x[0] * 255).astype(np.uint8)).save(tmp_path / "paper.png")  # dark ink on light paper
    np.save(tmp_path / "pair.npy", (x[1:] * 255).astype(np.uint8)[..., None])  # [2, 28, 28, 1] uint8
    files = [str(tmp_path / "paper.png"), str(tmp_path / "pair.npy")]
    labels, inputs = client.load_inputs(files)
    assert labels == ["paper.png", "pair.npy[0]", "pair.npy[1]"] and inputs.shape == (3, 28, 28)
    np.testing.assert_allclose(inputs, x, atol=1 / 255 + 1e-6)  # the PNG was inverted back to light-on-dark
    with pytest.raises(SystemExit) as exc:
        main(["predict", *files, "--url", url])
    lines = capsys.readouterr().out.strip().splitlines()
    assert exc.value.code == 0 and len(lines) == 3
    expected = exported[2].predict(inputs, verbose=0).argmax(1)
    assert [int(line.split("->")[1].split()[0]) for line in lines] == expected.tolist()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args, message", [
    (["predict", "NPY", "--url", "http://127.0.0.1:PORT"], "connection refused"),
    (["predict", "missing.png"], "missing.png: no such file"),
    (["predict", "BADPNG"], "not an image PIL can read"),
    (["serve", "tf-digits", "--out", "EMPTY"], "run `roadmap run 2.2.2` first"),
    (["serve", "tf-digits", "--model-dir", "EMPTY"], "no SavedModel versions under"),
])
def test_command_mistakes_are_one_line(args, message, tmp_path, capsys):
    np.save(tmp_path / "x.npy", _images(1))
    (tmp_path / "bad.png").write_text("not a png")
    (tmp_path / "empty").mkdir()
    swap = {"NPY": str(tmp_path / "x.npy"), "BADPNG": str(tmp_path / "bad.png"), "EMPTY": str(tmp_path / "empty")}
    args = [swap.get(a, a).replace("PORT", str(_free_port())) for a in args]
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and err.strip().count("\n") == 0


def test_server_refuses_a_busy_port(exported):
    model = load_latest(exported[0], "digits")
    with TFServingServer(model, port=0) as first, pytest.raises(UserError, match="cannot listen"):
        TFServingServer(model, port=int(first.url.rsplit(":", 1)[1]))


def test_serve_command_end_to_end(exported, tmp_path):
    """`roadmap serve tf-digits` in its own process, queried by `roadmap predict` in another."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "genai_roadmap", "serve", "tf-digits", "--model-dir",
                               str(exported[0]), "--port", str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                assert client.model_status(base, "digits") == AVAILABLE_V2
                break
            except UserError:
                assert server.poll() is None and time.time() < deadline, "server did not come up"
                time.sleep(0.3)
        np.save(tmp_path / "x.npy", _images(2))
        out = subprocess.run([sys.executable, "-m", "genai_roadmap", "predict", str(tmp_path / "x.npy"), "--url", base],
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0 and out.stdout.count("->") == 2
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "serving digits version 2" in server.stdout.read()


def test_importing_the_cli_and_projects_does_not_import_tensorflow():
    code = ("import sys, genai_roadmap.cli, genai_roadmap.serving.tf_rest, genai_roadmap.serving.client; "
            "import genai_roadmap.projects.phase2_deep_learning.tf_digits; "
            "from genai_roadmap import registry; registry.get('2.2.2').load(); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_tensorflow_the_project_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # makes `import tensorflow` raise ImportError
    with pytest.raises(UserError, match=r"pip install 'genai-roadmap\[tf\]'"):
        execute(registry.get("2.2.2"), preset="smoke", out=tmp_path, quiet=True)
