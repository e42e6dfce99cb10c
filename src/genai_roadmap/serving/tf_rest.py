"""A local server speaking TensorFlow Serving's REST API, backed by a SavedModel in TF Serving's folder layout.

    <model_dir>/<name>/<version>/saved_model.pb, variables/      (versions are integers; the highest is served)

Endpoints, with the paths, JSON bodies and status codes of TF Serving 2.x (tensorflow_serving/model_servers/
http_rest_api_handler.cc), so a client written against one works against the other:

    GET  /v1/models/<name>[/versions/<v>]           {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                                     "status": {"error_code": "OK", "error_message": ""}}]}
    GET  /v1/models/<name>[/versions/<v>]/metadata  {"model_spec": {...}, "metadata": {"signature_def": {...}}}
    POST /v1/models/<name>[/versions/<v>]:predict   {"instances": [...]} -> {"predictions": [...]}   (row format)
                                                    {"inputs": ...}      -> {"outputs": ...}         (columnar)
    errors                                          {"error": "<message>"}: 400 malformed request, bad JSON, wrong
                                                    shape or type; 404 unknown model or version

One convenience beyond TF Serving: an input whose signature shape is [..., 28, 28] also accepts [..., 28, 28, 1]
(and the reverse), since image tools disagree on the trailing channel axis. Real TF Serving rejects the mismatch.

Why the standard library's http.server rather than FastAPI: TF Serving puts the verb inside the last path segment
(`digits:predict`) and answers every failure, malformed JSON included, as `{"error": ...}` with its own status
codes, so FastAPI's routing and validation responses would all need overriding. A ThreadingHTTPServer gives the
same wire format in a few lines, adds no dependency beyond the `tf` extra, and starts on port 0 in a thread, which
is how the 2.2.2 run and the tests check the served predictions without a subprocess or an event loop.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError

TF_INSTALL_HINT = "pip install 'genai-roadmap[tf]'"
PREDICT_RE = re.compile(r"(?i)/v1/models/([^/:]+)(?:/versions/(\d+))?:(classify|regress|predict)")
METADATA_RE = re.compile(r"(?i)/v1/models/([^/:]+)(?:/versions/(\d+))?/metadata")
STATUS_RE = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:/versions/(\d+))?")


def import_tf():
    """TensorFlow, imported on first use with its C++ logging quiet; a one-line UserError when it is absent."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ log noise; real failures raise in Python
    if "tensorflow" in sys.modules and sys.modules["tensorflow"] is not None:
        return sys.modules["tensorflow"]
    try:
        with _drop_native_banners():
            import tensorflow as tf
    except ImportError:
        raise UserError(f"TensorFlow is not installed (it is an optional extra): {TF_INSTALL_HINT}") from None
    return tf


_TF_BANNERS = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on")


@contextlib.contextmanager
def _drop_native_banners():
    """While importing, TF writes banners straight to file descriptor 2, before any log level applies. Capture
    that descriptor and pass every other line on, so nothing but the two known banners is hidden."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                if not any(banner in line for banner in _TF_BANNERS):
                    sys.stderr.write(line)


class ServingError(Exception):
    """A request TF Serving would refuse: HTTP status + message, sent as {"error": message}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ---- the model ------------------------------------------------------------------------------------------------

@dataclass
class TensorSpec:
    dtype: np.dtype
    shape: list[int | None]  # None = any size (the batch axis)
    tf_dtype: str  # "DT_FLOAT", as TF Serving's metadata names it


class ServedModel:
    """One version of a SavedModel and its signatures (name -> callable taking and returning named tensors)."""

    def __init__(self, name: str, version: int, path: Path) -> None:
        tf = import_tf()
        self.name, self.version, self.path = name, version, path
        self._tf = tf
        self._loaded = tf.saved_model.load(str(path))
        self.signatures = dict(self._loaded.signatures)
        if "serving_default" not in self.signatures:
            raise UserError(f"{path} has no 'serving_default' signature (found: {', '.join(self.signatures)})")
        self.inputs = {k: self._spec(fn.structured_input_signature[1]) for k, fn in self.signatures.items()}
        self.outputs = {k: self._spec(fn.structured_outputs) for k, fn in self.signatures.items()}

    def _spec(self, specs: dict) -> dict[str, TensorSpec]:
        from tensorflow.core.framework import types_pb2

        return {name: TensorSpec(np.dtype(s.dtype.as_numpy_dtype), list(s.shape.as_list()),
                                 types_pb2.DataType.Name(s.dtype.as_datatype_enum)) for name, s in specs.items()}

    def run(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            out = self.signatures[signature](**{k: self._tf.constant(v) for k, v in inputs.items()})
        except (self._tf.errors.InvalidArgumentError, ValueError, TypeError) as exc:
            raise ServingError(400, str(exc).strip().splitlines()[0]) from None
        return {k: v.numpy() for k, v in out.items()}


def find_versions(base: Path) -> list[int]:
    """Integer-named subfolders holding a saved_model.pb (a `.1.tmp` being written is ignored, as TF Serving does)."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit() and (p / "saved_model.pb").exists())


def resolve_base(model_dir: Path, name: str) -> Path:
    """`<model_dir>/<name>/` when it holds versions, else `model_dir` itself (the folder TF Serving mounts)."""
    model_dir = Path(model_dir)
    for base in (model_dir / name, model_dir):
        if find_versions(base):
            return base
    raise UserError(f"no SavedModel versions under {model_dir} (expected {model_dir}/{name}/<version>/saved_model.pb)")


def load_latest(model_dir: Path, name: str) -> ServedModel:
    base = resolve_base(model_dir, name)
    version = find_versions(base)[-1]
    return ServedModel(name, version, base / str(version))


def latest_export_dir(runs_root: Path | None = None) -> Path:
    """The export folder of the newest completed 2.2.2 run (the default for `roadmap serve tf-digits`)."""
    from .. import registry
    from ..runs import latest_run

    record = latest_run(registry.get("2.2.2"), runs_root)
    if record is None or not (record.dir / "export").is_dir():
        raise UserError("no exported digits model found: run `roadmap run 2.2.2` first, or pass --model-dir")
    return record.dir / "export"


# ---- the REST API, without sockets (so it can be tested and reused directly) ------------------------------------

class RestApi:
    def __init__(self, model: ServedModel) -> None:
        self.model = model

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict]:
        path = path.split("?", 1)[0]
        try:
            return 200, self._route(method, path, body)
        except ServingError as exc:
            return exc.status, {"error": str(exc)}

    def _route(self, method: str, path: str, body: bytes) -> dict:
        if method == "POST" and (m := PREDICT_RE.fullmatch(path)):
            name, version, verb = m.groups()
            self._check(name, version, servable=True)
            if verb.lower() != "predict":
                raise ServingError(400, f"only :predict is served here, not :{verb} (it needs tf.Example signatures)")
            return self._predict(body)
        if method == "GET" and (m := METADATA_RE.fullmatch(path)):
            self._check(*m.groups(), servable=True)
            return self._metadata()
        if method == "GET" and (m := STATUS_RE.fullmatch(path)):
            name, version = m.groups()
            if not name:
                raise ServingError(400, "Missing model name in request.")
            self._check(name, version, servable=False)
            return {"model_version_status": [{"version": str(self.model.version), "state": "AVAILABLE",
                                              "status": {"error_code": "OK", "error_message": ""}}]}
        raise ServingError(400, f"Malformed request: {method} {path}")

    def _check(self, name: str, version: str | None, servable: bool) -> None:
        """404s worded as TF Serving words them (servable lookups vs status lookups differ)."""
        if name != self.model.name:
            raise ServingError(404, f"Servable not found for request: Latest({name})" if servable
                               else f"Could not find any versions of model {name}")
        if version is not None and int(version) != self.model.version:
            raise ServingError(404, f"Servable not found for request: Specific({name}, {int(version)})" if servable
                               else f"Could not find version {int(version)} of model {name}")

    def _metadata(self) -> dict:
        def spec_json(specs: dict[str, TensorSpec]) -> dict:
            return {k: {"dtype": s.tf_dtype, "tensor_shape": {"dim": [{"size": str(-1 if d is None else d), "name": ""}
                                                                      for d in s.shape], "unknown_rank": False}}
                    for k, s in specs.items()}

        sigs = {k: {"inputs": spec_json(self.model.inputs[k]), "outputs": spec_json(self.model.outputs[k]),
                    "method_name": "tensorflow/serving/predict"} for k in self.model.signatures}
        return {"model_spec": {"name": self.model.name, "signature_name": "", "version": str(self.model.version)},
                "metadata": {"signature_def": {"signature_def": sigs}}}

    def _predict(self, body: bytes) -> dict:
        if not body.strip():
            raise ServingError(400, "JSON Parse error: The document is empty")
        try:
            request = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ServingError(400, f"JSON Parse error: {exc}") from None
        if not isinstance(request, dict):
            raise ServingError(400, "JSON Value: the request body must be a JSON object")
        signature = request.get("signature_name") or "serving_default"
        if signature not in self.model.signatures:
            raise ServingError(400, f'Serving signature name: "{signature}" not found in signature def')
        specs = self.model.inputs[signature]
        if "instances" in request and "inputs" in request:
            raise ServingError(400, "Request can have only one of 'instances' (row format) or 'inputs' (columnar)")
        if "instances" in request:
            outputs = self.model.run(signature, _rows_to_inputs(request["instances"], specs))
            return {"predictions": _outputs_to_rows(outputs)}
        if "inputs" in request:
            outputs = self.model.run(signature, _columns_to_inputs(request["inputs"], specs))
            return {"outputs": next(iter(outputs.values())).tolist() if len(outputs) == 1
                    else {k: v.tolist() for k, v in outputs.items()}}
        raise ServingError(400, "Missing 'inputs' or 'instances' key")


def _rows_to_inputs(instances: Any, specs: dict[str, TensorSpec]) -> dict[str, np.ndarray]:
    """Row format: a list with one entry per example; entries are objects keyed by input name or, for a
    single-input signature, the bare value."""
    if not isinstance(instances, list) or not instances:
        raise ServingError(400, "'instances' must be a non-empty JSON array")
    if all(isinstance(row, dict) for row in instances):
        columns = {}
        for name in specs:
            if any(name not in row for row in instances):
                raise ServingError(400, f"every instance must name input '{name}'")
            columns[name] = [row[name] for row in instances]
        return {name: _to_array(name, columns[name], spec) for name, spec in specs.items()}
    if len(specs) != 1:
        raise ServingError(400, f"inputs {sorted(specs)}: each instance must be an object naming them")
    ((name, spec),) = specs.items()
    return {name: _to_array(name, instances, spec)}


def _columns_to_inputs(inputs: Any, specs: dict[str, TensorSpec]) -> dict[str, np.ndarray]:
    """Columnar format: an object {input name: whole batch}, or the bare batch for a single-input signature."""
    if isinstance(inputs, dict) and set(inputs) == set(specs):
        return {name: _to_array(name, inputs[name], spec) for name, spec in specs.items()}
    if len(specs) != 1 or isinstance(inputs, dict):
        raise ServingError(400, f"'inputs' must be an object with keys {sorted(specs)}")
    ((name, spec),) = specs.items()
    return {name: _to_array(name, inputs, spec)}


def _to_array(name: str, value: Any, spec: TensorSpec) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=spec.dtype)
    except (ValueError, TypeError):
        raise ServingError(400, f"input '{name}' is not a rectangular array of {spec.dtype} values") from None
    want = spec.shape
    if arr.ndim == len(want) + 1 and arr.shape[-1] == 1:  # [..., 28, 28, 1] sent to a [..., 28, 28] signature
        arr = arr[..., 0]
    elif arr.ndim == len(want) - 1 and want[-1] == 1:  # and the reverse
        arr = arr[..., None]
    if arr.ndim != len(want) or any(w is not None and w != a for w, a in zip(want, arr.shape, strict=True)):
        shown = "[" + ",".join("?" if w is None else str(w) for w in want) + "]"
        raise ServingError(400, f"input '{name}' has shape {list(arr.shape)}; the signature expects {shown}")
    return arr


def _outputs_to_rows(outputs: dict[str, np.ndarray]) -> list:
    if len(outputs) == 1:
        return next(iter(outputs.values())).tolist()
    n = len(next(iter(outputs.values())))
    return [{k: v[i].tolist() for k, v in outputs.items()} for i in range(n)]


# ---- HTTP ------------------------------------------------------------------------------------------------------

class TFServingServer:
    """The REST API on host:port (port 0 = any free port). Use as a context manager to serve in a thread."""

    def __init__(self, model: ServedModel, host: str = "127.0.0.1", port: int = 8501,
                 log: Callable[[str], None] | None = None) -> None:
        self.api = RestApi(model)
        try:
            self.httpd = ThreadingHTTPServer((host, port), _handler(self.api, log))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def start(self) -> TFServingServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="tf-rest", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()

    def __enter__(self) -> TFServingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler(api: RestApi, log: Callable[[str], None] | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a client sending many small requests reuses one connection
        server_version = "genai-roadmap-tf-rest"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = api.handle(self.command, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
            if log is not None:
                log(f"{self.address_string()} {format % args}")

    return Handler


def serve(model_dir: Path, name: str = "digits", host: str = "127.0.0.1", port: int = 8501,
          say: Callable[[str], None] = print) -> None:
    """Load the highest version and serve until Ctrl-C (`roadmap serve tf-digits`)."""
    model = load_latest(model_dir, name)
    server = TFServingServer(model, host, port, log=say)
    spec = ", ".join(f"{k}: {s.tf_dtype} {s.shape}" for k, s in model.inputs["serving_default"].items())
    say(f"serving {name} version {model.version} from {model.path} ({spec})")
    say(f"  status:  curl {server.url}/v1/models/{name}")
    say(f"  predict: curl -d '{{\"instances\": [...]}}' {server.url}/v1/models/{name}:predict")
    try:
        server.serve_forever()
    finally:
        server.close()


# ---- export ----------------------------------------------------------------------------------------------------

def export_for_serving(model: Any, export_root: Path, name: str, version: int,
                       input_shape: tuple[int, ...] = (28, 28)) -> Path:
    """Write a Keras model as `<export_root>/<name>/<version>/` with one signature, serving_default:
    images float32 [None, *input_shape] -> probabilities float32 [None, classes].

    Written to a hidden temporary folder, then renamed: a TF Serving watching the folder only ever sees a
    complete version (it ignores non-integer folder names).
    """
    tf = import_tf()
    target = Path(export_root) / name / str(version)
    if target.exists():
        raise UserError(f"{target} already exists: export a new version number instead")
    tmp = target.with_name(f".{version}.tmp")
    module = tf.Module()
    module.model = model  # tracked, so its variables are saved

    @tf.function(input_signature=[tf.TensorSpec([None, *input_shape], tf.float32, name="images")])
    def serving_default(images):
        return {"probabilities": model(images, training=False)}

    module.serving_default = serving_default
    try:
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": serving_default})
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # only left behind when saving failed
    return target
