"""Generated request ids: unique in a process and across forked workers."""

from __future__ import annotations

import os
import re

from engactivity.api.requestlog import request_id_from


def test_generated_ids_are_32_hex_digits_and_never_repeat() -> None:
    ids = [request_id_from([]) for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", made) for made in ids)
    assert len(set(ids)) == len(ids)


def test_a_sane_given_id_is_kept_and_a_bad_one_replaced() -> None:
    assert request_id_from([(b"x-request-id", b" batch-7:a ")]) == "batch-7:a"
    replaced = request_id_from([(b"x-request-id", b"two words")])
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_a_forked_worker_draws_ids_of_its_own() -> None:
    """A worker forked after the parent made ids (as --workers does) makes none of the
    parent's: it draws a random half of its own."""
    parent = [request_id_from([]) for _ in range(3)]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids, to the parent
        os.write(write, "".join(request_id_from([]) for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    child = [text[i : i + 32] for i in range(0, len(text), 32)]
    assert len(child) == 3
    assert not set(child) & set(parent)
    assert {made[:16] for made in child} != {made[:16] for made in parent}
