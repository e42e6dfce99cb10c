"""Schemathesis against the digits server's own OpenAPI schema (slow tier): every check it has (no 5xx, responses
and status codes as the schema says, schema-valid bodies accepted, invalid ones refused, 405 with Allow for
undeclared methods), over its coverage, fuzzing and stateful phases, with a fixed seed. The same command, against
`roadmap serve tf-digits`, is in benchmarks/serve_load.py's docstring."""

import re
import subprocess
import sys

import pytest

from genai_roadmap.errors import UserError
from genai_roadmap.serving.tf_rest import TFServingServer, export_for_serving, import_tf, load_latest

pytest.importorskip("schemathesis")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    try:
        import_tf()
    except UserError:
        pytest.skip("TensorFlow (the [tf] extra) is not installed")
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    root = tmp_path_factory.mktemp("export")
    export_for_serving(model, root, "digits", 1)
    with TFServingServer(load_latest(root, "digits"), port=0) as server:
        yield server.url


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors_and_no_schema_violations(url, tmp_path):
    out = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json", "--checks", "all",
                          "--max-examples", "25", "--seed", "1", "--no-color"],
                         capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert out.returncode == 0 and "No issues found" in out.stdout, out.stdout[-4000:] + out.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", out.stdout)
    assert counts and int(counts[1]) > 0 and counts[1] == counts[2]  # it did test something, and all passed
