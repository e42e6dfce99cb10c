"""TensorFlow Serving's REST API as a FastAPI router, backed by a SavedModel in TF Serving's folder layout.

Endpoints, with the paths, JSON bodies and status codes of TF Serving 2.x (tensorflow_serving/model_servers/
http_rest_api_handler.cc), so a client written against one works against the other:

    GET  /v1/models/<name>[/versions/<v>]           {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                                     "status": {"error_code": "OK", "error_message": ""}}]}
    GET  /v1/models/<name>[/versions/<v>]/metadata  {"model_spec": {...}, "metadata": {"signature_def": {...}}}
    POST /v1/models/<name>[/versions/<v>]:predict   {"instances": [...]} -> {"predictions": [...]}   (row format)
                                                    {"inputs": ...}      -> {"outputs": ...}         (columnar)
    errors                                          {"error": "<message>"}: 400 malformed request, bad JSON, wrong
                                                    shape or type; 404 unknown model or version

Where this differs from TF Serving, it is stricter or more HTTP-like, never looser: numbers must be finite JSON
numbers within the dtype's range (TF Serving also takes "NaN"); a body over the size limit gets 413 and a stalled
one 408 (see `app`); an unknown path gets 404 and a known path with the wrong method 405 (TF Serving: 400).
A model output that is not finite (NaN, inf) is sent as null, since JSON has no NaN (TF Serving writes a bare NaN,
which strict JSON parsers refuse). The request schema is derived from the model's signatures (`tf_schema`) and
published in the app's OpenAPI schema at /openapi.json.

Predictions run in uvicorn's thread pool, so the event loop keeps accepting connections while TensorFlow works.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

import numpy as np
from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.convertors import Convertor, register_url_convertor

from .app import BODY_TIMEOUT_S, ERROR_RESPONSES, MAX_BODY_BYTES, ApiError, create_app
from .savedmodel import (  # noqa: F401 - the 2.2.2 project and the tests import the model side from here
    BadInput,
    ServedModel,
    TensorSpec,
    export_for_serving,
    find_versions,
    import_tf,
    latest_export_dir,
    load_latest,
)
from .server import Server
from .tf_schema import SignatureRequests, named_values, openapi_request_schema, request_types


class ModelName(Convertor[str]):
    """A model name is one path segment without ':' (the ':' starts the verb: `digits:predict`)."""

    regex = "[^/:]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("tfmodel", ModelName())


# ---- reply shapes, for the OpenAPI schema -----------------------------------------------------------------------

class Status(BaseModel):
    error_code: str
    error_message: str


class VersionStatus(BaseModel):
    version: str
    state: str
    status: Status


class ModelStatus(BaseModel):
    model_version_status: list[VersionStatus]


class Metadata(BaseModel):
    model_spec: dict[str, str]
    metadata: dict[str, Any]


class RowsReply(BaseModel):
    predictions: list[Any]  # one entry per instance; non-finite numbers as null


class ColumnsReply(BaseModel):
    outputs: list[Any] | dict[str, Any]


# ---- the router -------------------------------------------------------------------------------------------------

def tf_serving_router(model: ServedModel) -> APIRouter:
    api = TFServingApi(model)
    router = APIRouter(tags=["TensorFlow Serving REST API"], responses=ERROR_RESPONSES)
    base, versioned = "/v1/models/{name:tfmodel}", "/v1/models/{name:tfmodel}/versions/{version:int}"
    # The schema names the model and version served here (any other gets TF Serving's 404, not a 400), so a
    # client or a fuzzer reading it reaches the model.
    name_param = PathParam(description="The model's name.", json_schema_extra={"enum": [model.name]})
    version_param = PathParam(ge=0, description="A model version; the highest one found is served.",
                              json_schema_extra={"enum": [model.version]})

    async def status(name: str = name_param) -> JSONResponse:
        return JSONResponse(api.status(name, None))

    async def status_of(name: str = name_param, version: int = version_param) -> JSONResponse:
        return JSONResponse(api.status(name, version))

    async def metadata(name: str = name_param) -> JSONResponse:
        return JSONResponse(api.metadata(name, None))

    async def metadata_of(name: str = name_param, version: int = version_param) -> JSONResponse:
        return JSONResponse(api.metadata(name, version))

    async def predict(request: Request, name: str = name_param) -> JSONResponse:
        api.check(name, None, servable=True)
        return JSONResponse(await run_in_threadpool(api.predict, await request.body()))

    async def predict_of(request: Request, name: str = name_param, version: int = version_param) -> JSONResponse:
        api.check(name, version, servable=True)
        return JSONResponse(await run_in_threadpool(api.predict, await request.body()))

    async def other_verb(name: str) -> JSONResponse:
        api.check(name, None, servable=True)
        raise ApiError(400, "only :predict is served here (:classify and :regress need tf.Example signatures)")

    async def no_model_name() -> JSONResponse:
        raise ApiError(400, "Missing model name in request.")

    body = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": openapi_request_schema(api.types)}}}}
    predict_reply = {200: {"model": Union[RowsReply, ColumnsReply]}}  # noqa: UP007
    router.add_api_route(base, status, methods=["GET"], responses={200: {"model": ModelStatus}},
                         summary="Model status (the served version)")
    router.add_api_route(versioned, status_of, methods=["GET"], responses={200: {"model": ModelStatus}},
                         summary="Status of one model version")
    router.add_api_route(base + "/metadata", metadata, methods=["GET"], responses={200: {"model": Metadata}},
                         summary="Signatures: input and output names, dtypes, shapes")
    router.add_api_route(versioned + "/metadata", metadata_of, methods=["GET"],
                         responses={200: {"model": Metadata}}, summary="Signatures of one model version")
    router.add_api_route(base + ":predict", predict, methods=["POST"], responses=predict_reply,
                         openapi_extra=body, summary="Predict (row or columnar format)")
    router.add_api_route(versioned + ":predict", predict_of, methods=["POST"], responses=predict_reply,
                         openapi_extra=body, summary="Predict with one model version")
    for verb in ("classify", "regress"):  # TF Serving's other verbs: routed, so the refusal says why
        router.add_api_route(f"{base}:{verb}", other_verb, methods=["POST"], include_in_schema=False)
    router.add_api_route("/v1/models", no_model_name, methods=["GET"], include_in_schema=False)
    return router


class TFServingApi:
    """The API's logic, without HTTP: each method returns a reply body or raises ApiError."""

    def __init__(self, model: ServedModel) -> None:
        self.model = model
        self.types = request_types(model)

    def check(self, name: str, version: int | None, servable: bool) -> None:
        """404s worded as TF Serving words them (servable lookups vs status lookups differ)."""
        if name != self.model.name:
            raise ApiError(404, f"Servable not found for request: Latest({name})" if servable
                           else f"Could not find any versions of model {name}")
        if version is not None and version != self.model.version:
            raise ApiError(404, f"Servable not found for request: Specific({name}, {version})" if servable
                           else f"Could not find version {version} of model {name}")

    def status(self, name: str, version: int | None) -> dict:
        self.check(name, version, servable=False)
        return {"model_version_status": [{"version": str(self.model.version), "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}

    def metadata(self, name: str, version: int | None) -> dict:
        self.check(name, version, servable=True)

        def spec_json(specs: dict[str, TensorSpec]) -> dict:
            return {k: {"dtype": s.tf_dtype, "tensor_shape": {"dim": [{"size": str(-1 if d is None else d), "name": ""}
                                                                      for d in s.shape], "unknown_rank": False}}
                    for k, s in specs.items()}

        sigs = {k: {"inputs": spec_json(self.model.inputs[k]), "outputs": spec_json(self.model.outputs[k]),
                    "method_name": "tensorflow/serving/predict"} for k in self.model.signatures}
        return {"model_spec": {"name": self.model.name, "signature_name": "", "version": str(self.model.version)},
                "metadata": {"signature_def": {"signature_def": sigs}}}

    def predict(self, body: bytes) -> dict:
        request = _parse(body)
        signature = request.get("signature_name") or "serving_default"
        if not isinstance(signature, str):
            raise ApiError(400, "'signature_name' must be a string")
        if signature not in self.types:
            raise ApiError(400, f'Serving signature name: "{signature}" not found in signature def')
        if "instances" in request and "inputs" in request:
            raise ApiError(400, "Request can have only one of 'instances' (row format) or 'inputs' (columnar)")
        if "instances" not in request and "inputs" not in request:
            raise ApiError(400, "Missing 'inputs' or 'instances' key")
        types = self.types[signature]
        rows = "instances" in request
        try:
            parsed = (types.rows if rows else types.columns).model_validate(request)
        except ValidationError as exc:
            raise ApiError(400, types.explain(exc)) from None
        if rows:
            per_row = [named_values(row, types.specs) for row in parsed.instances]
            values = {name: [row[name] for row in per_row] for name in types.specs}
        else:
            values = named_values(parsed.inputs, types.specs)
        try:
            outputs = self.model.run(signature, _arrays(values, types))
        except BadInput as exc:
            raise ApiError(400, str(exc)) from None
        if rows:
            return {"predictions": _rows(outputs)}
        return {"outputs": _jsonable(next(iter(outputs.values()))) if len(outputs) == 1
                else {k: _jsonable(v) for k, v in outputs.items()}}


def _parse(body: bytes) -> dict:
    if not body.strip():
        raise ApiError(400, "JSON Parse error: The document is empty")
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"JSON Parse error: {exc}") from None
    except RecursionError:  # e.g. 200k nested '[': the parser gives up before any stack is at risk
        raise ApiError(400, "JSON Parse error: nested too deeply") from None
    if not isinstance(request, dict):
        raise ApiError(400, "JSON Value: the request body must be a JSON object")
    return request


def _arrays(values: dict[str, Any], types: SignatureRequests) -> dict[str, np.ndarray]:
    arrays = {}
    for name, value in values.items():
        try:  # rectangular unless a dimension of unknown size differs between entries
            arrays[name] = np.asarray(value, dtype=types.specs[name].dtype)
        except ValueError:
            raise ApiError(400, f"input '{name}' is not a rectangular array; the signature takes "
                           f"{types.describe()}") from None
    return arrays


def _jsonable(value: np.ndarray) -> Any:
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        return np.where(np.isfinite(value), value.astype(object), None).tolist()
    if value.dtype.kind in "SO":
        return np.vectorize(lambda v: v.decode(errors="replace") if isinstance(v, bytes) else v,
                            otypes=[object])(value).tolist()
    return value.tolist()


def _rows(outputs: dict[str, np.ndarray]) -> list:
    if len(outputs) == 1:
        return _jsonable(next(iter(outputs.values())))
    columns = {k: _jsonable(v) for k, v in outputs.items()}
    return [{k: v[i] for k, v in columns.items()} for i in range(len(next(iter(columns.values()))))]


# ---- serving ----------------------------------------------------------------------------------------------------

class TFServingServer(Server):
    """The TF Serving API for one model on host:port (port 0 = any free port); `with` serves it from a thread."""

    def __init__(self, model: ServedModel, host: str = "127.0.0.1", port: int = 8501, foreground: bool = False,
                 max_body_bytes: int = MAX_BODY_BYTES, body_timeout_s: float = BODY_TIMEOUT_S) -> None:
        app = create_app(tf_serving_router(model), max_body_bytes=max_body_bytes, body_timeout_s=body_timeout_s)
        super().__init__(app, host, port, foreground=foreground)
        self.model = model


def serve(model_dir: Path, name: str = "digits", host: str = "127.0.0.1", port: int = 8501,
          say: Callable[[str], None] = print, max_body_bytes: int = MAX_BODY_BYTES,
          body_timeout_s: float = BODY_TIMEOUT_S) -> None:
    """Load the highest version and serve until Ctrl-C (`roadmap serve tf-digits`)."""
    model = load_latest(model_dir, name)
    server = TFServingServer(model, host, port, foreground=True, max_body_bytes=max_body_bytes,
                             body_timeout_s=body_timeout_s)
    spec = ", ".join(f"{k}: {s.tf_dtype} {s.shape}" for k, s in model.inputs["serving_default"].items())
    say(f"serving {name} version {model.version} from {model.path} ({spec})")
    say(f"  status:  curl {server.url}/v1/models/{name}")
    say(f"  predict: curl -d '{{\"instances\": [...]}}' {server.url}/v1/models/{name}:predict")
    say(f"  schema:  {server.url}/openapi.json  (docs: {server.url}/docs)")
    server.serve_forever()
