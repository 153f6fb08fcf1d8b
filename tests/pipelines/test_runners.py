"""Runner options: a small input runs in this process (no worker start-up) unless the mode is explicit."""

from __future__ import annotations

from pipelines.config import RunnerConfig
from pipelines.runners import IN_PROCESS_MAX_BYTES, IN_PROCESS_MAX_DOCS, pipeline_options, small_input


def _flags(cfg: RunnerConfig, **size) -> dict[str, object]:
    with pipeline_options(cfg, **size) as options:
        d = options.get_all_options()
    return {"workers": d["direct_num_workers"], "mode": d["direct_running_mode"]}


def test_small_input_measures():
    assert small_input(docs=10) and small_input(nbytes=1000)
    assert not small_input(docs=IN_PROCESS_MAX_DOCS) and not small_input(nbytes=IN_PROCESS_MAX_BYTES)
    assert not small_input()  # unknown size: as configured
    assert not small_input(docs=10, nbytes=IN_PROCESS_MAX_BYTES)  # any measure saying large wins


def test_auto_mode_runs_small_inputs_in_process_and_large_ones_on_workers():
    cfg = RunnerConfig(workers=2)
    assert _flags(cfg, input_docs=100) == {"workers": 1, "mode": "in_memory"}
    assert _flags(cfg, input_bytes=1 << 20) == {"workers": 1, "mode": "in_memory"}
    assert _flags(cfg, input_docs=IN_PROCESS_MAX_DOCS * 2) == {"workers": 2, "mode": "multi_processing"}
    assert _flags(cfg) == {"workers": 2, "mode": "multi_processing"}


def test_an_explicit_mode_or_beam_flag_is_obeyed_on_small_inputs():
    explicit = RunnerConfig(workers=2, mode="multi_processing")
    assert _flags(explicit, input_docs=100) == {"workers": 2, "mode": "multi_processing"}
    with pipeline_options(RunnerConfig(workers=2), ["--direct_num_workers=2", "--direct_running_mode=multi_processing"],
                          input_docs=100) as options:
        d = options.get_all_options()
    assert (d["direct_num_workers"], d["direct_running_mode"]) == (2, "multi_processing")


def test_a_stage_with_more_work_per_document_gives_lower_limits():
    assert small_input(docs=1000) and not small_input(docs=1000, max_docs=500)
    assert small_input(nbytes=30 << 20) and not small_input(nbytes=30 << 20, max_bytes=16 << 20)
    cfg = RunnerConfig(workers=2)
    assert _flags(cfg, input_docs=1000, max_docs=500) == {"workers": 2, "mode": "multi_processing"}
    assert _flags(cfg, input_docs=100, max_docs=500) == {"workers": 1, "mode": "in_memory"}
