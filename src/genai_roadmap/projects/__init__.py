"""One module per roadmap project, grouped by phase. Each reads top to bottom like a tutorial:

    \"\"\"<what the roadmap asks; what this does; the result it reaches, on what data, with which command>\"\"\"

    @dataclass
    class Config:                      # every field: param(default, "help text"); defaults = the cpu preset
        epochs: int = param(10, "passes over the training set")

    PRESETS = {"smoke": {...}, "cpu": {}, "full": {...}}   # overrides of Config per preset

    def run(cfg: Config, ctx: RunContext) -> dict:
        # data -> model -> train -> evaluate -> plots (ctx.plots / "*.png") -> return metrics (JSON-able)

The registry (genai_roadmap.registry) names the module of each implemented project; `runs.execute` builds the
Config, makes the run folder, seeds everything and records metrics.json / env.json / status.json.
"""
