"""HTTP model serving: a local server speaking TensorFlow Serving's REST API (`tf_rest`) and its client (`client`).

Nothing here imports TensorFlow at module import time; the server loads it when it loads a SavedModel.
"""
