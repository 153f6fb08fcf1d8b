"""A small PyTorch causal-LM trainer that streams Parquet token shards. Imports neither Beam nor filters."""
