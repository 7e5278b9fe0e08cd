"""One module per `python -m stillmotion_trainer <command>`.

Each module exports `HELP: str`, `add_arguments(parser)` and `run(args) -> int`. The module
name (underscores become dashes) is the command name. Modules import heavy libraries inside
`run`, so that `--help` and `serve` start fast.
"""
