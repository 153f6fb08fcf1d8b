"""The contract between the tokenize stage and the trainer: where the shard manifest is and its format.

Light on purpose (no torch): the tokenize stage, the report and `curate export` read these too.
"""

MANIFEST = "manifest.json"
FORMAT = "curate-shards/1"
