"""gankit.train.logging.read_records: the one reader of metrics.jsonl (app curves, benchmarks)."""

import json

import pytest

from gankit.train.logging import read_records


def test_reads_objects_in_order_and_skips_what_a_killed_run_leaves(tmp_path):
    recs = [{"step": 1, "d_total": 1.0}, {"step": 2, "fid": 9.5}, {"step": 3}]
    text = "\n".join(json.dumps(r) for r in recs[:2]) + '\n[1, 2]\n"str"\n\n' + json.dumps(recs[2]) + '\n{"step": 4, "d_to'
    (tmp_path / "metrics.jsonl").write_text(text)
    assert list(read_records(tmp_path)) == recs
    assert list(read_records(tmp_path, max_lines=2)) == recs[:2]  # lines, not records
    assert list(read_records(tmp_path, max_lines=5)) == recs[:2]
    with pytest.raises(FileNotFoundError):
        list(read_records(tmp_path / "nothing"))
