"""Run provenance: file hashes and the git commit a result was computed from."""

import hashlib
import shutil
import subprocess

import pytest

from cosim.provenance import file_sha256, git_commit, versions


def test_file_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "bank.npz"
    path.write_bytes(bytes(range(256)) * 5000)  # larger than one read chunk
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_flags_local_edits_of_tracked_files(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "model.py").write_text("a = 1\n")
    git("add", "model.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    clean = git_commit(tmp_path)
    assert len(clean) == 40 and not clean.endswith("+dirty")
    (tmp_path / "notes.txt").write_text("untracked files do not change results\n")
    assert git_commit(tmp_path) == clean
    (tmp_path / "model.py").write_text("a = 2\n")
    assert git_commit(tmp_path) == clean + "+dirty"


def test_versions_name_the_numeric_stack():
    v = versions()
    assert v["numpy"] and v["torch"] and int(v["torch_threads"]) >= 1 and v["python"].count(".") == 2
