"""A job runs its callable on a worker thread; progress and results reach the UI thread."""

from __future__ import annotations

import threading

from hilt.gui.jobs import Job


def test_job_runs_on_a_worker_and_reports_on_the_ui_thread(qtbot):
    ui = threading.get_ident()
    seen: list[tuple[object, int]] = []

    def work(control, report):
        for i in range(3):
            report((i, threading.get_ident()))
        return threading.get_ident()

    job = Job(work, "count")
    job.progress.connect(lambda v: seen.append((v, threading.get_ident())))
    with qtbot.waitSignal(job.finished, timeout=5000) as blocker:
        job.start()
    worker = blocker.args[0]
    assert worker != ui
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=5000)
    assert [v[0] for v, _ in seen] == [0, 1, 2]
    assert all(v[1] == worker and where == ui for v, where in seen)
    assert job.wait(5) and not job.running


def test_abort_reaches_a_busy_loop_and_its_finally_runs(qtbot):
    cleaned = threading.Event()
    started = threading.Event()

    def loop(control, report):
        try:
            started.set()
            while True:
                control.checkpoint()
                control.wait(0.01)
        finally:
            cleaned.set()

    job = Job(loop, "loop").start()
    assert started.wait(5)
    assert job.running
    with qtbot.waitSignal(job.finished, timeout=5000) as blocker:
        job.abort()
    assert blocker.args == [None]
    assert job.wait(5) and cleaned.is_set()


def test_failure_is_one_line_and_kept(qtbot):
    def broken(control, report):
        raise ValueError("the lock-in\ndid not answer")

    job = Job(broken, "broken")
    with qtbot.waitSignal(job.failed, timeout=5000) as blocker:
        job.start()
    assert blocker.args == ["the lock-in did not answer"]
    assert isinstance(job.error, ValueError)
