"""One module per stage: a composite PTransform and a `run` that wires it between the run folders."""
