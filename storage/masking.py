"""What tether shows of a session's secrets: the one rule for which ``-e NAME=value``
overrides are secret, used wherever a session is displayed (``tether show`` and every
``--json``, the TUI's detail screen, exports).

A value is secret when its name contains KEY, TOKEN, SECRET, PASSWORD or PASSWD (any
case: ``GITHUB_TOKEN``, ``db_password``, ``ApiKey``), or when the built-in redaction
patterns (``storage.redact``) find a secret in ``NAME=value`` (a URL with a password,
an ``sk-...`` key under any name). Only what is shown is masked: the stored value is
kept, because resuming the session must run with it. ``tether show --reveal`` shows it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from storage.redact import Redactor

MASK = "[REDACTED:env]"
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD")


@functools.cache
def _builtin() -> Redactor:
    from storage.redact import Redactor

    return Redactor()


def secret_name(name: str) -> bool:
    """Whether a variable of this name holds a secret by its name alone."""
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def is_secret(name: str, value: str) -> bool:
    """Whether ``NAME=value`` is a secret (by its name, or by the redaction patterns)."""
    if secret_name(name):
        return True
    if not value:
        return False
    _, found = _builtin().redact_bytes(f"{name}={value}".encode("utf-8", "surrogatepass"))
    return found > 0


def shown_env(env: Mapping[str, str] | None, *, reveal: bool = False) -> dict[str, str] | None:
    """``env`` as it may be displayed: secret values replaced by ``MASK`` (all of them
    kept when ``reveal``)."""
    if env is None:
        return None
    if reveal:
        return dict(env)
    return {k: MASK if is_secret(k, v) else v for k, v in env.items()}


REDACTED_MARK = "[REDACTED:"
_ARGUMENT_MASK = "[REDACTED:argument]"


def redacted_argv(
    argv: list[str] | tuple[str, ...], patterns: list[str] | None = None
) -> list[str]:
    """``argv`` as it is stored when ``[redaction] on_capture`` is on: each argument
    through the redaction patterns (built-in plus ``patterns``), ``--option value``
    pairs judged together, and the value of an option named like a secret
    (``--token X``, ``--password=X``) masked whatever it looks like. An unusable user
    pattern falls back to the built-in ones (the supervisor then refuses to start)."""
    from storage.redact import RedactionPatternError, Redactor

    try:
        redactor = Redactor(list(patterns or ()))
    except RedactionPatternError:
        redactor = Redactor()

    def text(value: str) -> str:
        data, found = redactor.redact_bytes(value.encode("utf-8", "surrogatepass"))
        return data.decode("utf-8", "replace") if found else value

    def pair(key: str, value: str) -> str:  # `--api-key abc` judged as `api-key=abc`
        data, found = redactor.redact_bytes(f"{key}={value}".encode("utf-8", "surrogatepass"))
        whole = data.decode("utf-8", "replace")
        if found and whole.startswith(f"{key}="):
            return whole[len(key) + 1 :]
        return text(value)

    out: list[str] = []
    prev = ""
    for arg in argv:
        if _is_option(prev) and not arg.startswith("-"):
            shown = pair(prev.lstrip("-"), arg)
            if shown == arg and _secret_option(prev):
                shown = _ARGUMENT_MASK
        else:
            shown = text(arg)
            if shown == arg and arg.startswith("-") and "=" in arg:
                key, _, value = arg.partition("=")
                if value and _secret_option(key):
                    shown = f"{key}={_ARGUMENT_MASK}"
        out.append(shown)
        prev = arg
    return out


def _is_option(arg: str) -> bool:
    return arg.startswith("-") and "=" not in arg and len(arg) > 1


def _secret_option(arg: str) -> bool:
    name = arg.lstrip("-")
    return (
        arg.startswith("-")
        and "=" not in arg
        and len(name) > 1
        and (
            secret_name(name) and name.lower() != "key"  # `sort --key 2` is not a secret
        )
    )


def argv_redacted(argv: list[str] | tuple[str, ...] | None) -> bool:
    """Whether a stored argv had secrets taken out (it cannot be re-run as it is)."""
    return any(REDACTED_MARK in arg for arg in argv or ())
