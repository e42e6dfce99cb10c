"""HTTP model serving: one FastAPI app on uvicorn (`app.create_app`, `server.Server`) that services join as routers.

The first router speaks TensorFlow Serving's REST API (`tf_rest`, request types in `tf_schema`, the SavedModel side
in `savedmodel`); `client` is its command-line client. Nothing here imports TensorFlow at module import time; the
server loads it when it loads a SavedModel.
"""
