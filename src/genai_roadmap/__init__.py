"""genai_roadmap: every project of the Generative-AI roadmap as a real pipeline on real data.

Python API (see genai_roadmap.api): `genai_roadmap.run("1.3.1", preset="cpu", csv=..., target=...)` returns
the run's `.metrics` and `.dir`; `genai_roadmap.results()` is the ledger; `genai_roadmap.load("3.3.2")` is a
trained model to use (`.sample("I am cold.", beam=4)`; see genai_roadmap.trained).
"""

import os

# OpenMP threads that spin while waiting (libgomp's default) crawl when another process holds a core: measured
# on 2 shared cores, a small CNN trained 3.3x slower and a tiny MLP 100x slower than with passive waiting. It must
# be set before torch loads libgomp, i.e. here, as the package is imported first by the CLI. An explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .api import RunResult, results, run  # noqa: E402  (after the environment setting above)
from .trained import TrainedModel, load  # noqa: E402

__version__ = "0.1.0"
__all__ = ["RunResult", "TrainedModel", "load", "results", "run"]
