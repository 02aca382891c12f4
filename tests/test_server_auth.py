"""The access token: random, kept only as a hash in an owner-only file, checked in constant time."""
import hmac
import io
import stat

from racekit.hardware.server import auth
from racekit.hardware.server.serve import prepare_token


def test_the_token_is_printed_once_and_only_its_hash_is_kept(tmp_path):
    first = io.StringIO()
    stored = prepare_token(str(tmp_path), out=first)
    token = first.getvalue().splitlines()[1].strip()
    assert len(token) >= 43 and stored == auth.token_hash(token)  # 32 random bytes, URL-safe
    path = tmp_path / auth.TOKEN_FILE
    assert path.read_text() == stored + "\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    again = io.StringIO()
    assert prepare_token(str(tmp_path), out=again) == stored and token not in again.getvalue()
    renewed = io.StringIO()
    assert prepare_token(str(tmp_path), renew=True, out=renewed) != stored
    assert auth.new_token(str(tmp_path)) != token


def test_a_damaged_hash_file_counts_as_no_token(tmp_path):
    (tmp_path / auth.TOKEN_FILE).write_text("not a hash\n")
    assert auth.load_token_hash(str(tmp_path)) is None


def test_checks_compare_hashes_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    check = auth.TokenCheck(auth.token_hash("right"))
    assert check.ok("right") and not check.ok("wrong") and not check.ok("") and not check.ok(None)
    assert len(calls) == 2 and all(len(a) == len(b) == 64 for a, b in calls)  # digests, never the raw token
    assert check.request_ok({b"authorization": b"bearer right"})
    assert check.request_ok({b"cookie": b"theme=dark; racekit_token=right"})
    for headers in ({}, {b"authorization": b"Basic right"}, {b"authorization": b"Bearer wrong"},
                    {b"cookie": b"racekit_token=wrong"}, {b"cookie": b"\x00junk=;;"}):
        assert not check.request_ok(headers)


def test_no_token_starts_with_a_dash(tmp_path):
    # One URL-safe token in 64 starts with "-", and `racekit flash --token -abc` would read it as an option.
    tokens = [auth.new_token(str(tmp_path)) for _ in range(400)]
    assert len(set(tokens)) == 400 and not any(t.startswith("-") for t in tokens)
    assert auth.load_token_hash(str(tmp_path)) == auth.token_hash(tokens[-1])
