"""`--runner direct`: Beam's FnApiRunner, with worker processes started through `pipelines.beam_worker`.

FnApiRunner is the engine Beam's DirectRunner picks for batch pipelines; naming it directly skips
DirectRunner's first try, the PrismRunner, which downloads a binary at run time.
"""

from __future__ import annotations

import sys

from apache_beam.portability import python_urns
from apache_beam.runners.portability.fn_api_runner import FnApiRunner


class CurateFnApiRunner(FnApiRunner):
    """FnApiRunner whose subprocess workers run `python -m pipelines.beam_worker` (quiet unless -v)."""

    def run_via_runner_api(self, pipeline_proto, options=None):
        command = f"{sys.executable} -m pipelines.beam_worker".encode()
        for env in pipeline_proto.components.environments.values():
            if env.urn == python_urns.SUBPROCESS_SDK and b"sdk_worker_main" in env.payload:
                env.payload = command
        return super().run_via_runner_api(pipeline_proto, options)
