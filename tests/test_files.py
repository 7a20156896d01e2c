"""Files that survive kills and full disks: torn JSONL tails, whole-line appends, the modes
of atomically written files, and the advisory lock on an output folder."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from pydantic import BaseModel

from agentpref.errors import InputError
from agentpref.io import (
    JsonlAppender,
    JsonlError,
    exclusive_folder,
    read_jsonl,
    repair_jsonl_tail,
    writable_folder,
    write_atomic,
)


class Row(BaseModel):
    n: int
    text: str = "é" * 10  # multi-byte, so a cut can split a character


def _lines(*rows: Row) -> bytes:
    return b"".join(r.model_dump_json().encode() + b"\n" for r in rows)


# -- torn lines -------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 9, 20])  # inside the key, inside a value, mid-character
def test_a_torn_final_line_is_left_out_with_a_warning_naming_file_and_line(tmp_path, caplog, cut):
    path = tmp_path / "samples.jsonl"
    path.write_bytes(_lines(Row(n=1), Row(n=2)) + Row(n=3).model_dump_json().encode()[:cut])
    with caplog.at_level(logging.WARNING, logger="agentpref.io"):
        assert [r.n for r in read_jsonl(path, Row)] == [1, 2]
    assert f"{path}:3: the last line is cut short" in caplog.text


def test_a_bad_line_in_the_middle_stays_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_bytes(_lines(Row(n=1)) + b'{"n": 2, "te\n' + _lines(Row(n=3)))
    with pytest.raises(JsonlError, match=rf"^{path}:2: not JSON"):
        read_jsonl(path, Row)
    path.write_bytes(_lines(Row(n=1)) + b'{"n": 2, "text": "' + "é".encode()[:1] + b'"}\n' + _lines(Row(n=3)))
    with pytest.raises(JsonlError, match=rf"^{path}:2: not UTF-8"):
        read_jsonl(path, Row)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, r"not usable JSON \(nested too deeply"),
        (b'{"n": ' + b"9" * 5000 + b"}", "not usable JSON"),
    ],
)
def test_json_that_breaks_the_parser_is_named_not_a_traceback(tmp_path, line, reason):
    path = tmp_path / "samples.jsonl"
    path.write_bytes(line + b"\n" + _lines(Row(n=1)))
    with pytest.raises(JsonlError, match=rf"^{path}:1: {reason}"):
        read_jsonl(path, Row)


def test_a_whole_final_line_without_its_newline_is_read(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_bytes(_lines(Row(n=1)) + Row(n=2).model_dump_json().encode())
    assert [r.n for r in read_jsonl(path, Row)] == [1, 2]


def test_repair_cuts_a_torn_tail_and_completes_a_whole_one(tmp_path, caplog):
    path = tmp_path / "ledger.jsonl"
    body = _lines(*(Row(n=i, text="x" * 500) for i in range(300)))  # > one 64 KB block
    path.write_bytes(body + b'{"n": 300, "te')
    with caplog.at_level(logging.WARNING, logger="agentpref.io"):
        repair_jsonl_tail(path)
    assert path.read_bytes() == body and f"{path}:301: cut off a torn last line" in caplog.text
    path.write_bytes(body + b'{"n": 300}')
    repair_jsonl_tail(path)
    assert path.read_bytes() == body + b'{"n": 300}\n'
    path.write_bytes(b'{"n": 0, "te')  # the only line, torn
    repair_jsonl_tail(path)
    assert path.read_bytes() == b""
    repair_jsonl_tail(tmp_path / "missing.jsonl")
    assert not (tmp_path / "missing.jsonl").exists()


def test_the_appender_starts_after_a_torn_tail(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(_lines(Row(n=1)) + b'{"n": 2, "te')
    with JsonlAppender(path) as ledger:
        ledger.append(Row(n=3))
    assert [r.n for r in read_jsonl(path, Row)] == [1, 3]


def test_a_full_disk_mid_line_leaves_only_whole_lines_and_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "ledger.jsonl"
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if len(data) > 10:  # the kernel takes half the line, then the disk is full
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with JsonlAppender(path) as ledger:
        ledger.append(Row(n=1))
        monkeypatch.setattr(os, "write", half_then_full)
        with pytest.raises(InputError, match=rf"^{path}: cannot write \(No space left on device\)"):
            ledger.append(Row(n=2))
        monkeypatch.setattr(os, "write", real_write)
        with pytest.raises(InputError, match="No space left"):  # refuses: the cause is not fixed
            ledger.append(Row(n=3))
    assert path.read_bytes() == _lines(Row(n=1))


# -- write_atomic ------------------------------------------------------------------------------


def test_write_atomic_gives_the_mode_open_would_and_keeps_a_replaced_files_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "report.html", "<p>")
        with (tmp_path / "events.jsonl").open("w"):
            pass
        assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644
        assert (tmp_path / "events.jsonl").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        write_atomic(tmp_path / "private.json", "{}")
        assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600
        (tmp_path / "report.html").chmod(0o640)
        write_atomic(tmp_path / "report.html", "<p>again")
        assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_write_atomic_names_the_file_it_cannot_write(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match=rf"^{tmp_path / 'a-file' / 'r.json'}: cannot write"):
        write_atomic(tmp_path / "a-file" / "r.json", "{}")


def test_writable_folder_refuses_a_file_and_a_read_only_folder(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match=rf"^{tmp_path / 'a-file'}: is a file"):
        writable_folder(tmp_path / "a-file")
    assert writable_folder(tmp_path / "new" / "deep").is_dir()
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(InputError, match=rf"^{tmp_path / 'ro'}: cannot write there"):
        writable_folder(tmp_path / "ro")


# -- the lock ---------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from agentpref.io import exclusive_folder
    with exclusive_folder(sys.argv[1], "eval"):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_a_second_process_fails_fast_and_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        start = time.monotonic()
        with pytest.raises(InputError) as caught, exclusive_folder(tmp_path, "eval"):
            pass
        assert time.monotonic() - start < 1.0  # refused at once, not after waiting
        assert str(caught.value) == (
            f"{tmp_path} is in use by another agentpref process (eval); "
            "wait for it to finish or choose another folder"
        )
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with exclusive_folder(tmp_path, "eval"):  # the OS let go of the dead holder's lock
        assert (tmp_path / ".lock").exists()
    with exclusive_folder(tmp_path, "eval"):  # and the previous `with` let go of its own
        pass


def test_the_lock_names_a_folder_it_cannot_make(tmp_path):
    (tmp_path / "out").write_text(json.dumps({}))
    with (
        pytest.raises(InputError, match=rf"^{tmp_path / 'out'}: is a file"),
        exclusive_folder(tmp_path / "out", "eval"),
    ):
        pass
