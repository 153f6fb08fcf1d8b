from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHashLSH

from filters.dedup.config import DedupConfig
from filters.dedup.lsh import band_keys, candidate_probability, optimal_params, s_curve


@pytest.mark.parametrize(("threshold", "weights"), [(0.8, (0.5, 0.5)), (0.8, (0.1, 0.9)), (0.7, (0.3, 0.7))])
def test_optimal_params_are_datasketchs(threshold, weights):
    lsh = MinHashLSH(threshold=threshold, num_perm=112, weights=weights)
    assert optimal_params(threshold, 112, *weights) == (lsh.b, lsh.r)


def test_optimal_params_are_datasketchs_on_many_settings():
    from datasketch.lsh import _optimal_param

    for threshold in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.99):
        for num_perm in (16, 64, 112, 128):
            for weights in ((0.5, 0.5), (0.1, 0.9), (0.9, 0.1), (0.3, 0.7)):
                want = tuple(map(int, _optimal_param(threshold, num_perm, *weights)))
                assert optimal_params(threshold, num_perm, *weights) == want, (threshold, num_perm, weights)


def test_default_banding_meets_the_recall_target():
    b, r = DedupConfig().banding()
    assert (b, r) == (12, 9)
    assert candidate_probability(0.85, b, r) > 0.95
    assert candidate_probability(0.5, b, r) < 0.03
    assert DedupConfig(bands=20, rows=5).banding() == (20, 5)


def test_s_curve_table():
    text = s_curve(12, 9)
    assert "b=12" in text and "0.85" in text


def test_band_keys_equal_exactly_when_bands_equal():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, size=(3, 12), dtype=np.uint32)
    sig[1, :4] = sig[0, :4]  # band 0 (rows 0-3) shared by docs 0 and 1
    sig[2, 4:8] = sig[0, 4:8]  # band 1 shared by docs 0 and 2
    keys = band_keys(sig, bands=3, rows=4)
    assert keys.shape == (3, 3) and keys.dtype == np.uint64
    assert keys[0, 0] == keys[1, 0] and keys[0, 1] != keys[1, 1]
    assert keys[0, 1] == keys[2, 1] and keys[0, 0] != keys[2, 0]
    same = np.tile(sig[:1, :4], (1, 3))  # the same values in every band still give distinct keys per band
    assert len(set(band_keys(same, 3, 4)[0].tolist())) == 3
    with pytest.raises(ValueError):
        band_keys(sig, bands=4, rows=4)
