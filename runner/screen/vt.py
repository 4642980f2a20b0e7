"""Drawing a screen as VT sequences, for backends that cannot export themselves."""

from __future__ import annotations

from .base import MODE_NUMBERS, CellStyle, Colour, Cursor, StyledRun


def _colour_params(colour: Colour, base: int) -> list[str]:
    """SGR parameters for a colour; `base` is 30 (foreground) or 40 (background)."""
    if colour is None:
        return []
    if isinstance(colour, int):
        if colour < 8:
            return [str(base + colour)]
        if colour < 16:
            return [str(base + 60 + colour - 8)]
        return [str(base + 8), "5", str(colour)]
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return [str(base + 8), "2", str(r), str(g), str(b)]


def sgr(style: CellStyle) -> str:
    """The SGR sequence that sets exactly `style` (starting from a reset)."""
    params = ["0"]
    for flag, code in (
        (style.bold, "1"),
        (style.faint, "2"),
        (style.italic, "3"),
        (style.underline, "4"),
        (style.blink, "5"),
        (style.inverse, "7"),
        (style.invisible, "8"),
        (style.strike, "9"),
    ):
        if flag:
            params.append(code)
    params += _colour_params(style.fg, 30)
    params += _colour_params(style.bg, 40)
    return "\x1b[" + ";".join(params) + "m"


def render_vt(
    rows: list[list[StyledRun]],
    cursor: Cursor,
    modes: dict[str, bool],
    alt_screen: bool,
) -> bytes:
    """VT bytes that draw `rows` and restore the cursor and modes on a clean terminal."""
    out = ["\x1b[?1049h" if alt_screen else "", "\x1b[0m\x1b[H\x1b[2J"]
    for y, runs in enumerate(rows):
        if not runs:
            continue
        out.append(f"\x1b[{y + 1};1H")
        for run in runs:
            out.append(sgr(run.style) + run.text)
    out.append("\x1b[0m")
    for name, on in modes.items():
        if name in ("cursor_visible", "autowrap"):
            continue
        if on:
            out.append(f"\x1b[?{MODE_NUMBERS[name]}h")
    if not modes.get("autowrap", True):
        out.append("\x1b[?7l")
    out.append(f"\x1b[{cursor.y + 1};{cursor.x + 1}H")
    out.append("\x1b[?25h" if cursor.visible else "\x1b[?25l")
    return "".join(out).encode()
