"""Apache Beam pipelines and the `curate` command line."""
