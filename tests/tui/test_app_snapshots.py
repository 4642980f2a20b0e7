"""Screenshots of the list, detail, modals and help at 120x36, compared with the
accepted SVGs in ``__snapshots__`` (update with ``--snapshot-update`` after looking).

Pinned for repeatability: seeded sessions with fixed timestamps and uids, a fixed
clock, UTC, HOME=/home/ana, no cursor blink, no background polling.
"""

from __future__ import annotations

import pytest

from tests.support.tui_app import make_app, paths_for, pin_environment, seed, seed_every_status

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
def seeded(tmp_path):  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    ids = seed(paths.db, seed_every_status)
    return paths, ids


def _before(*keys: str, select: str | None = None, ids: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        await app.wait_idle()
        if select is not None and ids is not None:
            app.state.select(ids[select])
            await app.wait_idle()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            await app.wait_idle()
        await pilot.pause()

    return run


def test_list_empty(snap_compare, tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=_before())


def test_list_every_status(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=_before())


def test_list_filtered_by_words(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    keys = ["slash", *"ci", "enter"]
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=_before(*keys))


def test_list_filtered_nothing_matches(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    keys = ["slash", *"zzz", "enter"]
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=_before(*keys))


def test_status_filter_modal(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    keys = ["f", "down", "down", "down", "space", "down", "space"]
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=_before(*keys))


def test_list_filtered_by_status(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    keys = ["f", "down", "down", "down", "down", "space", "down", "down", "space", "enter"]
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=_before(*keys))


def test_detail(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    run = _before("enter", select="lost", ids=ids)
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)


def test_new_session_modal(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    keys = ["n", *"make test", "tab"]
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=_before(*keys))


def test_confirm_delete(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    run = _before("d", select="tests", ids=ids)
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)


def test_confirm_stop(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    run = _before("s", select="running", ids=ids)
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)


def test_confirm_resume_imported(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    run = _before("r", select="imported", ids=ids)
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)


def test_tags_modal(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    run = _before("t", select="paused", ids=ids)
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)


def test_help(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, _ids = seeded
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=_before("question_mark"))


def test_help_on_detail(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    run = _before("enter", "question_mark", select="build", ids=ids)
    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run)
