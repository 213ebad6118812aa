"""The repository needs nothing beside it: no tracked file reaches outside the clone."""

import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_no_tracked_file_refers_to_the_folder_beside_the_clone():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True,
                           timeout=30).stdout.split()
    assert "tests/data/rlpx_vectors.json" in files
    needle = "../" + "shared"
    offenders = [f for f in files if needle in (ROOT / f).read_text(errors="replace")]
    assert offenders == []
