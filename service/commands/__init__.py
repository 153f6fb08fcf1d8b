"""`curate` subcommands of the service, one module each (pipelines/cli.py dispatches to them)."""
