"""TF Serving's predict request as strict pydantic types, built from a SavedModel's signatures.

For `images: float32 [None, 28, 28]` the row format is {"signature_name"?: "serving_default", "instances":
[<28 lists of 28 numbers>, ...]} (or each instance as {"images": ...}), the columnar one {"inputs": <batch>} (or
{"inputs": {"images": <batch>}}). Every known dimension is an exact list length, so a wrong shape fails here with
the index that is off, and the OpenAPI schema says exactly what is accepted. Numbers are strict: JSON numbers only
(no strings, booleans or null), finite, and within the dtype's range (1e39 would become inf in float32).
What is not a shape or type question (a fixed batch size, inputs of unequal batch) is left to TensorFlow.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError, create_model

from .savedmodel import ServedModel, TensorSpec

STRICT = ConfigDict(strict=True, extra="forbid")


def number_type(dtype: np.dtype) -> Any:
    if dtype.kind == "f":
        top = float(np.finfo(dtype).max)
        return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-top, le=top)]
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return Annotated[int, Field(strict=True, ge=int(info.min), le=int(info.max))]
    if dtype.kind == "b":
        return Annotated[bool, Field(strict=True)]
    return Annotated[str, Field(strict=True)]  # DT_STRING and the rest: TensorFlow checks them


def tensor_type(dims: list[int | None], dtype: np.dtype, at_least_one: bool = False) -> Any:
    """Nested lists, one level per dimension; a known size is an exact length. `at_least_one` for the batch."""
    kind = number_type(dtype)
    for i, size in reversed(list(enumerate(dims))):
        if size is not None:
            kind = Annotated[list[kind], Field(min_length=size, max_length=size)]
        else:
            kind = Annotated[list[kind], Field(min_length=1 if at_least_one and i == 0 else 0)]
    return kind


def _tensor_or_named(tensor: Any, named: type[BaseModel]) -> Any:
    """A bare tensor or {input name: tensor}; the discriminator picks the branch, so errors come from that one."""
    return Annotated[Union[Annotated[tensor, Tag("tensor")], Annotated[named, Tag("named")]],  # noqa: UP007
                     Discriminator(lambda value: "named" if isinstance(value, dict) else "tensor")]


def _named(model_name: str, kinds: dict[str, Any]) -> type[BaseModel]:
    # Input names need not be Python identifiers: fields are input_<i>, aliased to the name.
    fields = {f"input_{i}": (kind, Field(alias=name)) for i, (name, kind) in enumerate(kinds.items())}
    return create_model(model_name, __config__=STRICT, **fields)


def named_values(value: Any, specs: dict[str, TensorSpec]) -> dict[str, Any]:
    """{input name: value} from a validated bare tensor (single input) or named model."""
    if isinstance(value, BaseModel):
        return {name: getattr(value, f"input_{i}") for i, name in enumerate(specs)}
    ((name, _),) = specs.items()
    return {name: value}


class SignatureRequests:
    """The two request types (row and columnar) of one signature."""

    def __init__(self, signature: str, specs: dict[str, TensorSpec], index: int) -> None:
        self.signature, self.specs = signature, specs
        instance = {name: tensor_type(s.shape[1:], s.dtype) for name, s in specs.items()}
        batch = {name: tensor_type(s.shape, s.dtype, at_least_one=True) for name, s in specs.items()}
        named_instance, named_batch = _named(f"Instance{index}", instance), _named(f"Inputs{index}", batch)
        if len(specs) == 1:
            row, columns = _tensor_or_named(*instance.values(), named_instance), _tensor_or_named(*batch.values(),
                                                                                                   named_batch)
        else:
            row, columns = named_instance, named_batch
        # The default signature may be named, empty or left out, as in TF Serving.
        name_field = ((Literal["serving_default", ""], "serving_default") if signature == "serving_default"
                      else (Literal[signature], ...))
        self.rows = create_model(f"PredictRows{index}", __config__=STRICT, signature_name=name_field,
                                 instances=(Annotated[list[row], Field(min_length=1)], ...))
        self.columns = create_model(f"PredictColumns{index}", __config__=STRICT, signature_name=name_field,
                                    inputs=(columns, ...))

    def describe(self) -> str:
        """`images: float32 [?,28,28]`, for error messages."""
        return ", ".join(f"{name}: {s.dtype} [" + ",".join("?" if d is None else str(d) for d in s.shape) + "]"
                         for name, s in self.specs.items())

    def explain(self, exc: ValidationError) -> str:
        """The first problem as one line: where in the body, what is wrong, what the signature takes."""
        first = exc.errors()[0]
        known = {"instances", "inputs", "signature_name", *self.specs}
        # The loc also holds union branch tags ("tensor", "named"): keep indices, the key named at the top, and
        # input names.
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for i, p in enumerate(first["loc"])
                        if isinstance(p, int) or i == 0 or p in known).lstrip(".")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where or 'body'}: {first['msg']}{more}; the signature takes {self.describe()}"


def request_types(model: ServedModel) -> dict[str, SignatureRequests]:
    return {sig: SignatureRequests(sig, model.inputs[sig], i) for i, sig in enumerate(model.signatures)}


def openapi_request_schema(types: dict[str, SignatureRequests]) -> dict:
    """The JSON schema of any accepted predict body, with its definitions inlined (for a route's openapi_extra)."""
    variants = [kind for t in types.values() for kind in (t.rows, t.columns)]
    schema = TypeAdapter(Union[tuple(variants)]).json_schema()  # noqa: UP007
    return _inline(schema, schema.pop("$defs", {}))


def _inline(node: Any, defs: dict) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inline(defs[node["$ref"].rsplit("/", 1)[1]], defs), **_inline(rest, defs)}
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node
