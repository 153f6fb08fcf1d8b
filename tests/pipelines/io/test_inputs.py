"""Input listing: path lists read in list order, under their base."""

from __future__ import annotations

import gzip

from pipelines.config import InputSpec
from pipelines.io.inputs import list_input_files, listed_locations


def test_a_path_list_lists_its_entries_in_order_under_its_base_and_may_be_empty(tmp_path):
    for name in ("b.txt", "a.txt"):
        (tmp_path / name).write_text("some text\n")
    listing = tmp_path / "list.paths.gz"
    listing.write_bytes(gzip.compress(b"# a comment\nb.txt\n\na.txt\n"))
    spec = InputSpec(path_list=str(listing), base=f"{tmp_path}/", kind="book")
    assert listed_locations(spec) == [("b.txt", f"{tmp_path}/b.txt"), ("a.txt", f"{tmp_path}/a.txt")]
    assert [f.ctx.path for f in list_input_files([spec])] == ["b.txt", "a.txt"]
    empty = tmp_path / "empty.paths"
    empty.write_text("# nothing listed yet\n")
    assert list_input_files([InputSpec(path_list=str(empty), base=f"{tmp_path}/")]) == []
