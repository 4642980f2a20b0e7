"""The export dialog on the real app: ``e`` opens it for the selected session, the
format follows the file's extension, the file is written (0600, redacted by default)
and a toast tells how many secrets were redacted; plus its snapshot."""

from __future__ import annotations

import json
import stat

import pytest

from storage import open_store
from tests.support.tui_app import make_app, paths_for, pin_environment, seed, seed_every_status
from tui.screens.export import ExportModal, default_file_name

SIZE = (120, 36)
AWS_KEY = "AKIAQYLPMN5HFIQR7XYZ"


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
def seeded(tmp_path):  # type: ignore[no-untyped-def]
    paths = paths_for(tmp_path)
    paths.ensure()
    ids = seed(paths.db, seed_every_status)
    return paths, ids


async def _with_secret(db, session_id: int) -> None:  # type: ignore[no-untyped-def]
    async with open_store(db) as store:
        await store.output.append(session_id, "stdout", f"aws key {AWS_KEY}\n".encode())


async def _open(pilot, session_id: int) -> ExportModal:  # type: ignore[no-untyped-def]
    app = pilot.app
    await app.wait_idle()
    app.state.select(session_id)
    await app.wait_idle()
    await pilot.press("e")
    await pilot.pause()
    assert isinstance(app.screen, ExportModal)
    assert app.screen.session_ids == [session_id]
    return app.screen


def test_default_file_name():
    assert default_file_name([7]) == "tether-7.json"
    assert default_file_name([1, 2, 3], "md") == "tether-3-sessions.md"


async def test_e_exports_the_selected_session(seeded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    await _with_secret(paths.db, ids["build"])
    app = make_app(paths)
    out = tmp_path / "build.json"
    async with app.run_test(size=SIZE) as pilot:
        modal = await _open(pilot, ids["build"])
        field = modal.query_one("#path")
        assert field.value == f"~/src/app/tether-{ids['build']}.json"
        field.value = str(out)
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, ExportModal)
        toasts = [n.message for n in app._notifications]  # noqa: SLF001 - no public list
        assert any("1 secret redacted (1 aws-access-key-id)" in t for t in toasts), toasts
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_bytes())
    assert doc["redacted"] is True and AWS_KEY not in out.read_text()
    assert doc["sessions"][0]["session"]["name"] == "build"


async def test_format_choice_and_no_redaction(seeded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    await _with_secret(paths.db, ids["tests"])
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        modal = await _open(pilot, ids["tests"])
        field = modal.query_one("#path")
        field.value = str(tmp_path / "t.json")
        modal.query_one("#fmt-md").value = True
        await pilot.pause()
        assert field.value == str(tmp_path / "t.md")  # the extension follows the format
        modal.query_one("#redact").value = False
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
    text = (tmp_path / "t.md").read_text()
    assert text.startswith(f"# #{ids['tests']} unit tests\n")
    assert f"aws key {AWS_KEY}" in text  # redaction was turned off


async def test_bad_directory_keeps_the_dialog_open(seeded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        modal = await _open(pilot, ids["build"])
        modal.query_one("#path").value = str(tmp_path / "missing" / "x.json")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is modal
        error = str(modal.query_one("#export-error").render())
        assert "is not a directory" in error
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ExportModal)
    assert not (tmp_path / "missing").exists()


async def test_the_extension_decides_the_format(seeded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A path ending in .md with the default format writes Markdown, as ``tether export
    -o x.md`` does (storage.transfer.export.format_for_path); the choice follows."""
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        modal = await _open(pilot, ids["tests"])
        assert modal.chosen_format == "json"
        modal.query_one("#path").value = str(tmp_path / "notes.md")
        await pilot.pause()
        assert modal.chosen_format == "md"
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, ExportModal)
    text = (tmp_path / "notes.md").read_text()
    assert text.startswith(f"# #{ids['tests']} unit tests\n"), text[:80]


async def test_space_in_the_path_field_keeps_the_path(seeded) -> None:  # type: ignore[no-untyped-def]
    """The field opens with the cursor at the end, nothing selected: a space typed
    there (the hint says space toggles the choices) does not wipe the path."""
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        modal = await _open(pilot, ids["build"])
        field = modal.query_one("#path")
        default = field.value
        assert field.has_focus and field.selection.is_empty
        await pilot.press("space")
        assert field.value.startswith(default)
        await pilot.press("tab", "space")  # the redact checkbox: space toggles it
        assert modal.query_one("#redact").value is False
        assert field.value.strip() == default


@pytest.mark.parametrize(
    ("path", "says"),
    [("   ", "Type the file to write"), ("/proc/tether-export.json", "Could not export")],
)
async def test_every_failure_shows_an_error(seeded, path, says) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded
    app = make_app(paths)
    async with app.run_test(size=SIZE) as pilot:
        modal = await _open(pilot, ids["build"])
        modal.query_one("#path").value = path
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is modal
        assert says in str(modal.query_one("#export-error").render())


def test_export_modal_snapshot(snap_compare, seeded) -> None:  # type: ignore[no-untyped-def]
    paths, ids = seeded

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _open(pilot, ids["build"])
        await pilot.app.wait_idle()
        await pilot.pause()

    assert snap_compare(make_app(paths), terminal_size=SIZE, run_before=run_before)
