"""`python -m genai_roadmap` is the `roadmap` command."""

from .cli import main

main()
