"""Secret redaction: every built-in kind caught, no false positives on ordinary logs,
streaming equal to whole-input redaction for any split, bytes kept losslessly.

All secrets here are fake, generated from a seeded RNG with the right lengths and
alphabets.
"""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.redact import (
    MAX_LINE,
    RedactionPatternError,
    Redactor,
    StreamRedactor,
)
from storage.secret_patterns import BUILTIN as _BUILTIN
from storage.secret_patterns import BUILTIN_KINDS
from storage.secret_patterns import group_span as _group_span

CLEAN_LOGS = Path(__file__).parent / "data" / "clean_logs"
ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"
UPPER_DIGITS = string.ascii_uppercase + string.digits
_rng = random.Random(20241014)


def _pick(alphabet: str, n: int) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


def _b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def fake_jwt() -> str:
    header = _b64url({"alg": "HS256", "typ": "JWT"})
    payload = _b64url({"sub": _pick(string.digits, 8), "iat": 1728890000, "scope": "read"})
    return f"{header}.{payload}.{_pick(B64URL, 43)}"


def fake_pem(label: str = "PRIVATE KEY", lines: int = 12, *, fields: tuple[str, ...] = ()) -> str:
    raw = base64.b64encode(bytes([0x30, 0x82, 0x04, 0xBD]) + _rng.randbytes(lines * 48)).decode()
    body = [raw[i : i + 64] for i in range(0, len(raw), 64)]
    head = [*fields, ""] if fields else []
    return "\n".join([f"-----BEGIN {label}-----", *head, *body, f"-----END {label}-----"])


FAKE = {
    "aws-access-key-id": lambda: "AKIA" + _pick(UPPER_DIGITS, 16),
    "aws-sts-key-id": lambda: "ASIA" + _pick(UPPER_DIGITS, 16),
    "aws-secret-key": lambda: _pick(ALNUM + "/+", 40),
    "ghp": lambda: "ghp_" + _pick(ALNUM, 36),
    "gho": lambda: "gho_" + _pick(ALNUM, 36),
    "ghu": lambda: "ghu_" + _pick(ALNUM, 36),
    "ghs": lambda: "ghs_" + _pick(ALNUM, 36),
    "ghr": lambda: "ghr_" + _pick(ALNUM, 36),
    "github-pat": lambda: "github_pat_" + _pick(ALNUM, 22) + "_" + _pick(ALNUM, 59),
    "glpat": lambda: "glpat-" + _pick(B64URL, 20),
    "xoxb": lambda: (
        f"xoxb-{_pick(string.digits, 12)}-{_pick(string.digits, 13)}-{_pick(ALNUM, 24)}"
    ),
    "xoxp": lambda: (
        f"xoxp-{_pick(string.digits, 12)}-{_pick(string.digits, 12)}"
        f"-{_pick(string.digits, 13)}-{_pick('0123456789abcdef', 32)}"
    ),
    "xoxa": lambda: f"xoxa-2-{_pick(string.digits, 12)}-{_pick(ALNUM, 40)}",
    "xoxr": lambda: f"xoxr-{_pick(string.digits, 12)}-{_pick(ALNUM, 40)}",
    "xoxs": lambda: (
        f"xoxs-{_pick(string.digits, 12)}-{_pick(string.digits, 12)}-{_pick(ALNUM, 40)}"
    ),
    "slack-webhook": lambda: (
        f"T{_pick(UPPER_DIGITS, 8)}/B{_pick(UPPER_DIGITS, 10)}/{_pick(ALNUM, 24)}"
    ),
    "openai": lambda: "sk-" + _pick(ALNUM, 48),
    "openai-proj": lambda: "sk-proj-" + _pick(B64URL, 156),
    "anthropic": lambda: "sk-ant-api03-" + _pick(B64URL, 93) + "AA",
    "stripe": lambda: "sk_live_" + _pick(ALNUM, 24),
    "npm": lambda: "npm_" + _pick(ALNUM, 36),
    "hf": lambda: "hf_" + _pick(string.ascii_letters, 34),
    "google": lambda: "AIza" + _pick(B64URL, 35),
    "pypi": lambda: "pypi-AgEIcHlwaS5vcmc" + _pick(B64URL, 60),
    "jwt": fake_jwt,
    "opaque": lambda: _pick(ALNUM + "-._~", 40),
    "basic": lambda: base64.b64encode(f"deploy:{_pick(ALNUM, 16)}".encode()).decode(),
    "password": lambda: _pick(ALNUM, 10) + "!" + _pick(ALNUM, 5),
    "hex32": lambda: _pick("0123456789abcdef", 32),
}

# (kind reported, fake secret, line with {s} where the secret goes)
SAMPLES: list[tuple[str, str, str]] = [
    ("aws-access-key-id", "aws-access-key-id", "AWS_ACCESS_KEY_ID={s}"),
    ("aws-access-key-id", "aws-access-key-id", '    "AccessKeyId": "{s}",'),
    ("aws-access-key-id", "aws-sts-key-id", "{s} is not authorized to perform: s3:GetObject"),
    ("aws-access-key-id", "aws-access-key-id", "Found credentials in environment: {s}"),
    ("aws-secret-key", "aws-secret-key", "aws_secret_access_key = {s}"),
    ("aws-secret-key", "aws-secret-key", "AWS_SECRET_ACCESS_KEY={s}"),
    ("aws-secret-key", "aws-secret-key", 'export AWS_SECRET_ACCESS_KEY="{s}"'),
    ("aws-secret-key", "aws-secret-key", '  "aws_secret_access_key": "{s}",'),
    ("github-token", "ghp", "GITHUB_TOKEN={s}"),
    ("github-token", "gho", "oauth token: {s} (expires in 8h)"),
    ("github-token", "ghu", "{s}"),
    ("github-token", "ghs", "remote: https://x-access-token:{s}@github.com/acme/api.git"),
    ("github-token", "ghr", "refresh={s}"),
    ("github-token", "github-pat", "gh auth login --with-token <<< '{s}'"),
    ("gitlab-token", "glpat", "PRIVATE-TOKEN: {s}"),
    ("gitlab-token", "glpat", "git clone https://oauth2:{s}@gitlab.com/acme/api.git"),
    ("gitlab-token", "glpat", "using token {s}"),
    ("slack-token", "xoxb", "SLACK_BOT_TOKEN={s}"),
    ("slack-token", "xoxp", "slack.WebClient(token='{s}')"),
    ("slack-token", "xoxa", "{s} revoked"),
    ("slack-token", "xoxr", '{{"refresh_token": "{s}"}}'),
    ("slack-token", "xoxs", "legacy session {s}"),
    ("slack-webhook", "slack-webhook", "POST https://hooks.slack.com/services/{s} -> 200"),
    ("slack-webhook", "slack-webhook", 'SLACK_WEBHOOK_URL="https://hooks.slack.com/services/{s}"'),
    ("slack-webhook", "slack-webhook", "https://hooks.slack.com/services/{s}"),
    ("openai-key", "openai", "OPENAI_API_KEY={s}"),
    ("openai-key", "openai-proj", "openai.AuthenticationError: Incorrect API key provided: {s}."),
    ("openai-key", "openai-proj", "  api_key: '{s}'"),
    ("anthropic-key", "anthropic", "ANTHROPIC_API_KEY={s}"),
    ("anthropic-key", "anthropic", "x-api-key: {s}"),
    ("anthropic-key", "anthropic", '{{"error": "invalid x-api-key", "key": "{s}"}}'),
    ("stripe-key", "stripe", "Stripe.api_key = {s}"),
    ("npm-token", "npm", "//registry.npmjs.org/:_authToken={s}"),
    ("huggingface-token", "hf", "huggingface-cli login --token {s}"),
    ("google-api-key", "google", "GET https://maps.googleapis.com/maps/api/geocode/json?key={s}"),
    ("pypi-token", "pypi", "twine upload -u __token__ -p {s} dist/*"),
    ("jwt", "jwt", "set-cookie: session={s}; Path=/; HttpOnly"),
    ("jwt", "jwt", "DEBUG decoded id_token {s}"),
    ("jwt", "jwt", "{s}"),
    ("jwt", "jwt", 'curl -H "Authorization: Bearer {s}" https://api.example.com/me'),
    ("authorization", "opaque", "> Authorization: Bearer {s}"),
    ("authorization", "basic", "Authorization: Basic {s}"),
    ("authorization", "basic", "Proxy-Authorization: Basic {s}"),
    ("authorization", "opaque", '{{"headers": {{"Authorization": "Bearer {s}"}}}}'),
    ("authorization", "opaque", "requests: headers={{'authorization': 'token {s}'}}"),
    ("authorization", "opaque", "retrying with bearer {s}"),
    ("url-password", "password", "postgres://app:{s}@db.internal:5432/app"),
    ("url-password", "password", "DATABASE_URL=postgresql+psycopg://app:{s}@localhost/app"),
    ("url-password", "password", "connecting to redis://:{s}@cache:6379/0 ..."),
    (
        "url-password",
        "password",
        "mongodb+srv://admin:{s}@cluster0.ab1cd.mongodb.net/?retryWrites=true",
    ),
    ("url-password", "password", "pip install -i https://deploy:{s}@pypi.example.com/simple pkg"),
    ("assignment", "hex32", "export API_KEY={s}"),
    ("assignment", "password", 'DB_PASSWORD="{s}"'),
    ("assignment", "password", "password: {s}"),
    ("assignment", "password", "  PASSWORD: '{s}'"),
    ("assignment", "hex32", '{{"client_secret": "{s}", "client_id": "web"}}'),
    ("assignment", "hex32", "SECRET_KEY = '{s}'"),
    ("assignment", "hex32", "deploy --api-key={s} --region eu"),
    ("assignment", "hex32", "ENV SERVICE_TOKEN={s}"),
    ("assignment", "password", "spring.datasource.password={s}"),
    ("assignment", "hex32", "GET /v1/report?api_key={s}&format=json"),
    ("assignment", "hex32", '  apiKey: "{s}",'),
    ("assignment", "hex32", "STRIPE_WEBHOOK_SECRET={s}"),
    ("assignment", "password", "mysql_root_passwd => {s}"),
    ("assignment", "hex32", "{{'auth_token': '{s}'}}"),
    ("assignment", "hex32", 'msg="request body: {{\\"api_key\\": \\"{s}\\", \\"n\\": 1}}"'),
]


def _rendered() -> list[tuple[str, str, str, str]]:
    """(kind, secret, line, expected) for every sample."""
    out = []
    for kind, fake, template in SAMPLES:
        secret = FAKE[fake]()
        out.append(
            (kind, secret, template.format(s=secret), template.format(s=f"[REDACTED:{kind}]"))
        )
    return out


RENDERED = _rendered()
REDACTOR = Redactor()


def _clean_files() -> list[Path]:
    return sorted(CLEAN_LOGS.glob("*.log"))


# -- catching ---------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "secret", "line", "expected"), RENDERED, ids=lambda v: "")
def test_sample_is_redacted_exactly(kind: str, secret: str, line: str, expected: str) -> None:
    out, n = REDACTOR.redact_text(line)
    assert secret not in out
    assert (out, n) == (expected, 1)


def test_every_builtin_kind_has_samples() -> None:
    per_kind = {kind: sum(1 for k, _, _ in SAMPLES if k == kind) for kind in BUILTIN_KINDS}
    assert per_kind.pop("private-key") == 0  # multi-line: tested on its own below
    assert min(per_kind.values()) >= 1
    named_in_issue = [
        "aws-access-key-id",
        "aws-secret-key",
        "github-token",
        "gitlab-token",
        "slack-token",
        "slack-webhook",
        "openai-key",
        "anthropic-key",
        "jwt",
        "authorization",
        "url-password",
        "assignment",
    ]
    assert all(per_kind[kind] >= 3 for kind in named_in_issue), per_kind


def test_samples_in_one_log_are_all_caught_and_counted() -> None:
    log = (
        "\n".join(
            f"2024-10-14T08:00:{i % 60:02d}Z job[7]: {line}"
            for i, (_, _, line, _) in enumerate(RENDERED)
        )
        + "\n"
    )
    out, counts = REDACTOR.redact_bytes_by_kind(log.encode())
    for _, secret, _, _ in RENDERED:
        assert secret.encode() not in out
    expected: dict[str, int] = {}
    for kind, _, _, _ in RENDERED:
        expected[kind] = expected.get(kind, 0) + 1
    assert counts == expected
    assert REDACTOR.redact_bytes(log.encode())[1] == len(RENDERED)


def test_assignment_keeps_key_and_url_keeps_user_and_host() -> None:
    assert REDACTOR.redact_text("API_KEY=abcdef0123456789") == ("API_KEY=[REDACTED:assignment]", 1)
    assert REDACTOR.redact_text("https://user:pa55w0rd@host/x") == (
        "https://user:[REDACTED:url-password]@host/x",
        1,
    )


def test_two_secrets_on_one_line_are_two_redactions() -> None:
    a, b = FAKE["ghp"](), FAKE["aws-access-key-id"]()
    out, n = REDACTOR.redact_text(f"{a} {b}")
    assert (out, n) == ("[REDACTED:github-token] [REDACTED:aws-access-key-id]", 2)


# -- PEM private keys ---------------------------------------------------------------

PEM_LABELS = [
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "OPENSSH PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "DSA PRIVATE KEY",
]


@pytest.mark.parametrize("label", PEM_LABELS)
def test_pem_block_becomes_one_redaction(label: str) -> None:
    key = fake_pem(label)
    data = f"$ cat id_key\n{key}\n$ echo done\n".encode()
    assert REDACTOR.redact_bytes(data) == (
        b"$ cat id_key\n[REDACTED:private-key]\n$ echo done\n",
        1,
    )


def test_pem_with_crlf_and_encryption_fields() -> None:
    key = fake_pem(
        "RSA PRIVATE KEY",
        fields=("Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-128-CBC,0A1B2C3D4E5F60718293A4B5C6D7E8F9"),
    )
    data = ("before\r\n" + key.replace("\n", "\r\n") + "\r\nafter\r\n").encode()
    assert REDACTOR.redact_bytes(data) == (b"before\r\n[REDACTED:private-key]\r\nafter\r\n", 1)


def test_pgp_private_key_block() -> None:
    body = base64.b64encode(_rng.randbytes(300)).decode()
    block = "\n".join(
        [
            "-----BEGIN PGP PRIVATE KEY BLOCK-----",
            "Comment: exported",
            "",
            *[body[i : i + 64] for i in range(0, len(body), 64)],
            "=a1B2",
            "-----END PGP PRIVATE KEY BLOCK-----",
        ]
    )
    assert REDACTOR.redact_text(f"{block}\nok\n") == ("[REDACTED:private-key]\nok\n", 1)


def test_pem_with_log_prefix_indent_and_string_literal() -> None:
    key = fake_pem("PRIVATE KEY", 4)
    prefixed = "".join(f"web-1  | {line}\n" for line in key.split("\n")) + "web-1  | ready\n"
    assert REDACTOR.redact_text(prefixed) == (
        "web-1  | [REDACTED:private-key]\nweb-1  | ready\n",
        1,
    )
    yaml = (
        "tls:\n  key: |\n" + "".join(f"    {line}\n" for line in key.split("\n")) + "  port: 443\n"
    )
    assert REDACTOR.redact_text(yaml) == (
        "tls:\n  key: |\n    [REDACTED:private-key]\n  port: 443\n",
        1,
    )
    py = f'KEY = """{key}"""\nprint(KEY)\n'
    assert REDACTOR.redact_text(py) == ('KEY = """[REDACTED:private-key]\n"""\nprint(KEY)\n', 1)


def test_pem_on_one_line_json_escaped() -> None:
    key = fake_pem("PRIVATE KEY", 6).replace("\n", "\\n")
    line = f'{{"type": "service_account", "private_key": "{key}\\n", "client_email": "a@b.iam"}}'
    out, n = REDACTOR.redact_text(line)
    assert n == 1
    assert out == (
        '{"type": "service_account", "private_key": "[REDACTED:private-key]", '
        '"client_email": "a@b.iam"}'
    )


def test_truncated_pem_is_still_redacted() -> None:
    key = fake_pem("RSA PRIVATE KEY").split("\n")
    cut = "\n".join(key[:6])  # output ended mid-key (process killed)
    assert REDACTOR.redact_text(f"x\n{cut}") == ("x\n[REDACTED:private-key]\n", 1)
    assert REDACTOR.redact_text(f"x\n{cut}\nTraceback (most recent call last):\n") == (
        "x\n[REDACTED:private-key]\nTraceback (most recent call last):\n",
        1,
    )


def test_pem_header_alone_releases_following_lines() -> None:
    # A header at a line end opens a block, but "no matches" is no key body.
    text = "-----BEGIN RSA PRIVATE KEY-----\nno matches\n"
    assert REDACTOR.redact_text(text) == ("[REDACTED:private-key]\nno matches\n", 1)
    text = "-----BEGIN RSA PRIVATE KEY-----\nError: not a key\n"
    assert REDACTOR.redact_text(text) == ("[REDACTED:private-key]\nError: not a key\n", 1)
    # Not at the line end (a grep for the header): nothing opens.
    grep = "grep -rn '-----BEGIN RSA PRIVATE KEY-----' .\nno matches\n"
    assert REDACTOR.redact_text(grep) == (grep, 0)


def test_text_after_a_footer_is_still_redacted() -> None:
    key, token = fake_pem("EC PRIVATE KEY", 2), FAKE["ghp"]()
    text = f"{key} {token}\n{key}{key}\nok\n"  # footer then a token; footer then a header
    assert REDACTOR.redact_text(text) == (
        "[REDACTED:private-key]\n [REDACTED:github-token]\n[REDACTED:private-key]\n"
        "[REDACTED:private-key]\nok\n",
        4,
    )


def test_overlong_pem_body_is_released_at_the_bound() -> None:
    stream = REDACTOR.stream(max_pem_body=1024)
    line = b"QUFB" * 16 + b"\n"  # 65 bytes: the 16th line passes 1024 and ends the block
    out = stream.feed(b"-----BEGIN PRIVATE KEY-----\n" + line * 40 + b"next\n") + stream.flush()
    assert out == b"[REDACTED:private-key]\n" + line * 25 + b"next\n"


def test_certificates_and_public_keys_are_not_redacted() -> None:
    cert = fake_pem("CERTIFICATE", 6) + "\n" + fake_pem("PUBLIC KEY", 3) + "\n"
    assert REDACTOR.redact_text(cert) == (cert, 0)


# -- no false positives --------------------------------------------------------------


def test_corpus_is_big_enough() -> None:
    files = _clean_files()
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    assert len(files) >= 5 and lines >= 600


@pytest.mark.parametrize("path", _clean_files(), ids=lambda p: p.name)
def test_clean_log_has_no_redactions(path: Path) -> None:
    data = path.read_bytes()
    out, counts = REDACTOR.redact_bytes_by_kind(data)
    assert counts == {}
    assert out == data


@pytest.mark.parametrize(
    "line",
    [
        "sort_key=name",
        "TOKENIZER_PATH=/models/tok.json",
        "MAX_TOKENS=4096 max_new_tokens=256",
        "client = make_client(api_key=api_key, timeout=5)",
        "password = getpass.getpass()",
        "token=self.token password=config.db.password",
        "API_KEY=${API_KEY:-} PASSWORD=$DB_PASSWORD",
        "Authorization: Bearer $GITHUB_TOKEN",
        "api_key: None",
        'password: "[FILTERED]"',
        "AWS_SECRET_ACCESS_KEY: ***",
        "http://localhost:8080/users/jane@example.com",
        "docker.io/library/node:20@sha256:" + "ab" * 32,
        "commit 5feceb66ffc86f38d952786c6d696c79c2dbc239",
        "request_id=0190f3c2-7d1e-7b3a-9c4d-5e6f7a8b9c0d",
        "task-runner-integration-tests-for-disk-usage-report",
        "the bearer of bad news",
        "passwordless=true password_min_length=12",
        "if password == expected:",
        "def login(username: str | None, password: HiddenText | None = None) -> None:",
        "SCANNING_KEY = 4",
        'help="Specify a proxy in the form scheme://[user:passwd@]proxy.server:port."',
    ],
)
def test_ordinary_lines_are_left_alone(line: str) -> None:
    assert REDACTOR.redact_text(line) == (line, 0)


# -- bytes, text, escapes ------------------------------------------------------------


def test_invalid_utf8_nul_and_ansi_survive() -> None:
    token = FAKE["ghp"]().encode()
    data = (
        b"\xff\xfe\x00 \x1b[32mOK\x1b[0m "
        + token
        + b"\x1b[0m \xc3\x28 API_KEY=s3cr3tv4lu3\x1b[0m\n\x80"
    )
    out, n = REDACTOR.redact_bytes(data)
    assert n == 2
    assert out == (
        b"\xff\xfe\x00 \x1b[32mOK\x1b[0m [REDACTED:github-token]\x1b[0m \xc3\x28 "
        b"API_KEY=[REDACTED:assignment]\x1b[0m\n\x80"
    )


def test_redact_text_keeps_unicode_and_lone_surrogates() -> None:
    assert REDACTOR.redact_text("café ✓ API_KEY=naïve-sécret-123 ✓") == (
        "café ✓ API_KEY=[REDACTED:assignment] ✓",
        1,
    )
    odd = "bad \udcff byte \ud800 kept"
    assert REDACTOR.redact_text(odd) == (odd, 0)


def test_redacting_twice_changes_nothing() -> None:
    log = "\n".join(line for _, _, line, _ in RENDERED) + "\n" + fake_pem() + "\n"
    once, n = REDACTOR.redact_text(log)
    assert n == len(RENDERED) + 1
    assert REDACTOR.redact_text(once) == (once, 0)


# -- user patterns -------------------------------------------------------------------


def test_user_patterns_whole_match_and_secret_group() -> None:
    r = Redactor([r"ACME-[0-9]{6}", r"employee_id=(?P<secret>\d+)", r"^INTERNAL .*"])
    text = "ticket ACME-123456 by employee_id=4411\nINTERNAL build notes\nnot INTERNAL here\n"
    out, counts = r.redact_bytes_by_kind(text.encode())
    assert out == (
        b"ticket [REDACTED:custom] by employee_id=[REDACTED:custom]\n[REDACTED:custom]\n"
        b"not INTERNAL here\n"
    )
    assert counts == {"custom": 3}
    assert r.user_patterns == (r"ACME-[0-9]{6}", r"employee_id=(?P<secret>\d+)", r"^INTERNAL .*")


def test_user_patterns_do_not_match_across_lines() -> None:
    r = Redactor([r"secret\s+\w+"])
    assert r.redact_text("secret\nvalue\n") == ("secret\nvalue\n", 0)
    assert r.redact_text("my secret  value\n") == ("my [REDACTED:custom]\n", 1)


def test_builtins_can_be_turned_off() -> None:
    r = Redactor([r"zz+"], builtin=False)
    assert r.redact_text("API_KEY=abcdefabcdef zzz") == (
        "API_KEY=abcdefabcdef [REDACTED:custom]",
        1,
    )


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("(unclosed", "missing )"),
        ("[a-", "unterminated character set"),
        ("*oops", "nothing to repeat"),
    ],
)
def test_invalid_user_pattern_names_pattern_and_error(pattern: str, fragment: str) -> None:
    with pytest.raises(RedactionPatternError) as info:
        Redactor(["fine[0-9]+", pattern])
    message = str(info.value)
    assert repr(pattern) in message and fragment in message and "position" in message
    assert isinstance(info.value, ValueError)


def test_user_pattern_matching_empty_string_is_rejected() -> None:
    with pytest.raises(RedactionPatternError, match="empty string"):
        Redactor([r"x*"])


# -- streaming -----------------------------------------------------------------------

NOISE_LINES = [line for path in _clean_files() for line in path.read_bytes().split(b"\n")[:40]]
SECRET_LINES = [line.encode() for _, _, line, _ in RENDERED]
PEMS = [fake_pem("RSA PRIVATE KEY", 5).encode(), fake_pem("OPENSSH PRIVATE KEY", 3).encode()]

# Fragments of secrets and of their contexts, to glue into near misses.
FRAGMENTS = [
    *(
        b"sk- sk-ant- sk-proj- ghp_ github_pat_ glpat- xoxb- AKIA ASIA eyJ hf_ npm_ AIza pypi-AgE"
        b' sk_live_ :// @ : = " \' _ - . / $ { \\ \\" API_KEY password Token secret Authorization'
        b" bearer Basic aws_secret_access_key https user a1B2c3D4e5F6g7H8i9J0 ABCDEFGHIJ0123456789"
    ).split(),
    b" ",
    b"\t",
    b"\n",
    b"\r",
    b"\xff",
]
soup = st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(b"".join)

piece = st.one_of(
    soup,
    st.sampled_from(NOISE_LINES),
    st.sampled_from(SECRET_LINES),
    st.sampled_from(PEMS),
    st.sampled_from(PEMS).map(lambda p: p[: len(p) // 2]),  # truncated block
    st.sampled_from(PEMS).map(lambda p: p.replace(b"\n", b"\r\n")),
    st.binary(max_size=40),
    st.sampled_from([b"\xff\xfe", b"\x1b[31m", b"\r", b"", b"-----BEGIN"]),
)
documents = st.lists(
    st.tuples(piece, st.sampled_from([b"\n", b"\r\n", b"", b" ", b"\n\n"])), max_size=25
).map(lambda parts: b"".join(p + sep for p, sep in parts))


def _feed_split(stream: StreamRedactor, data: bytes, cuts: list[int]) -> bytes:
    out, prev = [], 0
    for cut in sorted(cuts) + [len(data)]:
        out.append(stream.feed(data[prev:cut]))
        prev = cut
    out.append(stream.flush())
    return b"".join(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=documents, split=st.data())
def test_stream_equals_whole_for_any_split(data: bytes, split: st.DataObject) -> None:
    cuts = split.draw(st.lists(st.integers(0, len(data)), max_size=12))
    stream = REDACTOR.stream()
    assert _feed_split(stream, data, cuts) == REDACTOR.redact_bytes(data)[0]
    assert stream.counts == REDACTOR.redact_bytes_by_kind(data)[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=documents, split=st.data(), max_line=st.integers(2, 300))
def test_stream_with_line_cuts_equals_one_feed(
    data: bytes, split: st.DataObject, max_line: int
) -> None:
    cuts = split.draw(st.lists(st.integers(0, len(data)), max_size=12))
    r = Redactor([r"ACME-[0-9]{6}", r"^\$ .*"])
    whole = r.stream(max_line=max_line)
    expected = whole.feed(data) + whole.flush()
    stream = r.stream(max_line=max_line)
    assert _feed_split(stream, data, cuts) == expected
    assert stream.counts == whole.counts


@settings(max_examples=200, deadline=None)
@given(data=documents)
def test_redaction_is_idempotent(data: bytes) -> None:
    once, _ = REDACTOR.redact_bytes(data)
    assert REDACTOR.redact_bytes(once) == (once, 0)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400))
def test_no_redaction_means_bytes_unchanged(data: bytes) -> None:
    out, n = REDACTOR.redact_bytes(data)
    if n == 0:
        assert out == data


def test_secret_straddling_every_chunk_boundary() -> None:
    token = FAKE["anthropic"]()
    data = f"line one\nexport ANTHROPIC_API_KEY={token}\n{fake_pem()}\nend".encode()
    expected = (
        b"line one\nexport ANTHROPIC_API_KEY=[REDACTED:anthropic-key]\n[REDACTED:private-key]\nend"
    )
    assert REDACTOR.redact_bytes(data) == (expected, 2)
    for size in (1, 2, 3, 7, 64):
        stream = REDACTOR.stream()
        out = b"".join(stream.feed(data[i : i + size]) for i in range(0, len(data), size))
        assert out + stream.flush() == expected
        assert stream.total == 2


def test_memory_stays_bounded_without_newlines() -> None:
    stream = REDACTOR.stream(max_line=4096)
    released = 0
    for i in range(1024):
        released += len(stream.feed(bytes([65 + i % 26]) * 1024))
        assert stream.pending <= 4096
    released += len(stream.flush())
    assert released == 1024 * 1024


def test_memory_stays_bounded_inside_an_endless_pem_block() -> None:
    stream = REDACTOR.stream()
    out = stream.feed(b"-----BEGIN PRIVATE KEY-----\n")
    line = b"QUFB" * 16 + b"\n"
    for _ in range(20_000):  # 1.3 MB of base64 lines, never a footer
        out += stream.feed(line)
        assert stream.pending <= len(line)
    assert stream.pending == 0
    out += stream.flush()
    assert out.startswith(b"[REDACTED:private-key]\n")
    assert len(out) < 1_400_000  # past MAX_PEM_BODY the lines are released, not kept


def test_long_line_secret_is_caught_when_not_cut() -> None:
    token = FAKE["ghp"]()
    data = ("x" * (MAX_LINE - 200) + " " + token + "\n").encode()
    assert REDACTOR.redact_bytes(data) == (
        ("x" * (MAX_LINE - 200) + " [REDACTED:github-token]\n").encode(),
        1,
    )


def test_stream_can_be_reused_after_flush() -> None:
    stream = REDACTOR.stream()
    stream.feed(b"-----BEGIN PRIVATE KEY-----\nQUFB\n")
    stream.flush()
    assert stream.feed(b"QUFB\n") == b"QUFB\n"  # the previous block ended with the stream
    assert stream.counts == {"private-key": 1}


def test_stream_rejects_tiny_max_line() -> None:
    with pytest.raises(ValueError):
        StreamRedactor(REDACTOR, max_line=1)


@settings(max_examples=500, deadline=None)
@given(data=st.one_of(documents, soup))
def test_triggers_never_hide_a_match(data: bytes) -> None:
    """Rules are tried only near literal trigger hits (a speed-up); every match a
    plain scan of each line finds must still be found."""
    found = {(s, e, kind) for s, _, e, kind in REDACTOR._find(data)}
    offset = 0
    for line in data.split(b"\n"):
        for rule in _BUILTIN:
            for m in rule.regex.finditer(line):
                if rule.accept is None or rule.accept(m):
                    s, e = _group_span(m, rule.groups)
                    assert (offset + s, offset + e, rule.kind) in found
        offset += len(line) + 1


def test_release_hands_out_a_partial_line_and_keeps_the_stream_open() -> None:
    stream = REDACTOR.stream()
    assert stream.feed(b"$ ./deploy\nPassword: ") == b"$ ./deploy\n"
    assert stream.pending == len(b"Password: ")
    assert stream.release() == b"Password: "
    assert stream.pending == 0
    head = stream.feed(b"ok\n-----BEGIN PRIVATE KEY-----\nQUFB")
    assert head == b"ok\n[REDACTED:private-key]\n"
    assert stream.release() == b""  # a body line inside the open block stays swallowed
    assert stream.feed(b"QUFB\n-----END PRIVATE KEY-----\nAPI_KEY=abcdef123456") == b""
    assert stream.release() == b"API_KEY=[REDACTED:assignment]"
    assert stream.counts == {"private-key": 1, "assignment": 1}
