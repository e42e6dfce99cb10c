"""genai_roadmap: every project of the Generative-AI roadmap as a real pipeline on real data."""

__version__ = "0.1.0"
