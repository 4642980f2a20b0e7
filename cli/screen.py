"""``tether screen``: what a pty session's terminal shows (or showed at a line), and the
rendered transcript behind ``tether logs --rendered``. Nothing here imports Textual.

A running session's screen comes from its supervisor, which emulates it as the output
arrives. A finished one's (and any ``--at``) is rebuilt from the nearest stored screen
snapshot by replaying the raw output after it through the same emulator at the
recorded terminal size (``runner.screen.replay``): at most one snapshot interval. The
rendered transcript is the stored one (rows that scrolled off, stored by the
supervisor), completed by the same replay; a session recorded before screens were
stored gets them built and stored on first use (``runner.screen.render``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from .common import _runner_errors, _session_store, _usage
from .context import EXIT_ERROR, EXIT_OK, Ctx, print_json

if TYPE_CHECKING:
    from runner.screen.replay import ScreenReplay
    from storage import Session, Store


def _no_terminal(session: Session) -> int:
    print(
        f"tether: session #{session.id} runs on pipes, not in a terminal, so it has no "
        f"screen; `tether logs {session.id}` prints its output (start a session with "
        f"`tether run --pty` to get one)",
        file=sys.stderr,
    )
    return EXIT_ERROR


def _is_terminal(session: Session) -> bool:
    from runner.kinds import kind_named

    return kind_named(session.mode).resizable


async def _live_state(ctx: Ctx, store: Store, session: Session, styled: bool) -> dict | None:
    """The supervisor's screen, or None when the session is not running (any more)."""
    from runner import control
    from runner.errors import NotRunning, SupervisorGone

    if not session.live:
        return None
    try:
        return await control.screen(store, ctx.paths, session.id, styled=styled)
    except (NotRunning, SupervisorGone):
        return None  # it ended meanwhile: the stored output has all of it


async def replay(
    store: Store, session: Session, *, until: int | None = None, transcript: bool = False
) -> ScreenReplay:
    """A ``ScreenReplay`` of ``session`` fed up to line ``until`` (exclusive) or the end."""
    from runner.screen.render import needs_render, render_session
    from runner.screen.replay import ScreenReplay

    if await needs_render(store, session.id):
        await render_session(store, session.id, _progress(session))
    screen = ScreenReplay(session.id, transcript=transcript)
    await screen.start_near(store, until=until)
    await screen.catch_up(store, until=until)
    return screen


def _progress(session: Session):
    """Progress of building a session's screens, on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(line: int, lines: int) -> None:
        sys.stderr.write(f"\rtether: rendering #{session.id}'s screens: line {line}/{lines}")
        if line >= lines:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def ansi_lines(styled: list[list[Any]]) -> list[str]:
    """Rows of styled runs as text with SGR colours (each row ends reset)."""
    from runner.screen.base import DEFAULT_STYLE
    from runner.screen.vt import sgr

    out = []
    for runs in styled:
        parts = []
        for run in runs:
            parts.append(run.text if run.style == DEFAULT_STYLE else sgr(run.style) + run.text)
            if run.style != DEFAULT_STYLE:
                parts.append("\x1b[0m")
        out.append("".join(parts).rstrip(" "))
    while out and not out[-1]:
        out.pop()
    return out


@_runner_errors
def cmd_screen(ctx: Ctx) -> int:
    args = ctx.args
    if args.at is not None and args.at < 1:
        raise _usage(ctx, "--at takes a line number (1 is the first line)")

    async def go() -> int:
        from runner.screen.state import screen_state, shown_lines, styled_from_state

        async with _session_store(ctx) as store:
            session = await store.sessions.resolve(args.id)
            if not _is_terminal(session):
                return _no_terminal(session)
            want_styles = args.ansi
            state = None
            if args.at is None:
                state = await _live_state(ctx, store, session, want_styles)
            source = "supervisor"
            if state is None:
                source = "replay"
                replayed = await replay(store, session, until=args.at)
                state = screen_state(replayed.screen, styled=want_styles)
        if args.json:
            print_json({"session": session.id, "source": source, "at": args.at, **state})
        elif args.ansi:
            text = ansi_lines(styled_from_state(state["styled"]))
            sys.stdout.write("".join(line + "\n" for line in text))
        else:
            sys.stdout.write("".join(line + "\n" for line in shown_lines(state["lines"])))
        return EXIT_OK

    return ctx.run(go)


async def print_rendered(ctx: Ctx, store: Store, session: Session) -> int:
    """``tether logs ID --rendered``: what scrolled off the main screen, then the final
    screen, as plain text (exit 1 for a pipe session). ``--tail N`` keeps the last N."""
    args = ctx.args
    clash = [
        o
        for o, on in (
            ("-f", args.follow),
            ("--stream", args.stream),
            ("--raw", args.raw),
            ("-t", args.timestamps),
        )
        if on
    ]
    if clash:
        raise _usage(ctx, f"--rendered cannot be combined with {', '.join(clash)}")
    tail = args.tail
    if not _is_terminal(session):
        return _no_terminal(session)
    replayed = await replay(store, session, transcript=True)
    lines = replayed.rendered()
    if tail is not None:
        lines = lines[-tail:] if tail else []
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help = "print what a terminal (pty) session's screen shows"
    p = sub.add_parser("screen", parents=[common], help=help, description=help)
    p.set_defaults(func=cmd_screen, _parser=p)
    p.add_argument("id", help="session id: 42, #42 or a uid prefix")
    p.add_argument("--ansi", action="store_true", help="keep colours and attributes")
    p.add_argument(
        "--at",
        type=int,
        metavar="LINE",
        help="the screen as it was once output line LINE was written (1 is the first)",
    )
    p.add_argument(
        "--json", action="store_true", help="rows, cursor, size, alternate screen and modes"
    )
