#!/usr/bin/env python3
"""authcore verifies the password hashes taskito's dashboard stores.

taskito (pinned in tools/requirements.txt) keeps its dashboard users in its
queue's settings store; its AuthStore writes
pbkdf2_sha256$<iterations>$<16 salt bytes as hex>$<32 hash bytes as hex>,
the prefix Django uses with other fields. Here taskito's own code makes the
users (a real Queue on a SQLite file in a temporary folder, AuthStore
create_user and update_password, so 600,000 iterations as taskito writes
them), the stored table is read back as taskito keeps it, and authcore
must agree with taskito's own verify_password on every one:
  - through the C API (`build/tests/test_password --verify HASH`, password on
    stdin): the right password is "match", a changed one "mismatch";
  - through the CLI (`authcore verify-password HASH`): exit 0, and exit 1
    with "mismatch" on stderr;
  - through a policy: the table's users load (`authcore policy check`) and
    a JSON login post with the right password gets a session, a wrong one
    a 401 bad_password (`authcore decide`).
Passwords include non-ASCII ones (taskito hashes their UTF-8 bytes) and
the longest taskito accepts (256 characters; 256 four-byte characters are
authcore's 1,024-byte default limit).
Prints "ok - ..." / "not ok - ...: why" lines, like the other suites.

usage: taskito_xcheck.py build/tests/test_password build/bin/authcore
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import failed, report  # noqa: E402

from taskito import Queue  # noqa: E402
from taskito.dashboard import auth as tk  # noqa: E402

USERS = [
    ("alice", "correct horse battery staple", "admin"),
    ("bjørn", "pässwörd-ключ-密码", "viewer"),
    ("carol", "🔑" * 256, "viewer"),  # 1,024 UTF-8 bytes
    ("dave", " spaces at both ends ", "admin"),
    ("erin", "tab\there, quote\" and backslash\\", "viewer"),
]
NEW_PASSWORD = "a brand new passphrase ✓"  # given to alice afterwards


def changed(pw: str) -> str:
    """A wrong password one character away from the right one."""
    return pw[:-1] + chr(ord(pw[-1]) ^ 1)


def c_api(binary: str, h: str, pw: str) -> str:
    r = subprocess.run([binary, "--verify", h], input=pw.encode(),
                       capture_output=True, timeout=60)
    return r.stdout.decode().strip()


def cli(authcore: str, h: str, pw: str):
    r = subprocess.run([authcore, "verify-password", h], input=pw.encode(),
                       capture_output=True, timeout=60)
    return r.returncode, r.stderr.decode().strip()


def login(authcore: str, policy: str, state: str, user: str, pw: str) -> dict:
    req = {"method": "POST", "path": "/dash/auth/login", "client_ip": "127.0.0.1",
           "headers": [["host", "dash.example"],
                       ["content-type", "application/json"],
                       ["accept", "application/json"]],
           "body": json.dumps({"username": user, "password": pw})}
    r = subprocess.run([authcore, "decide", "--policy", policy, "--state", state],
                       input=json.dumps(req).encode(), capture_output=True,
                       timeout=60)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"error": r.stderr.decode().strip()}


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/tests/test_password"
    authcore = sys.argv[2] if len(sys.argv) > 2 else "build/bin/authcore"
    with tempfile.TemporaryDirectory() as tmp:
        queue = Queue(db_path=os.path.join(tmp, "taskito.db"))
        store = tk.AuthStore(queue)
        for name, pw, role in USERS:
            store.create_user(name, pw, role=role)
        table = json.loads(queue.get_setting(tk.USERS_KEY))
        passwords = {name: pw for name, pw, _ in USERS}

        # what taskito stored, and that taskito itself accepts it (so the
        # checks below compare authcore with taskito, not with itself)
        bad = []
        for name, row in table.items():
            h = row["password_hash"]
            f = h.split("$")
            if not (len(f) == 4 and f[0] == "pbkdf2_sha256" and len(f[2]) == 32
                    and len(f[3]) == 64 and f[3] == f[3].lower()):
                bad.append(f"{name}: {h}")
            if not tk.verify_password(passwords[name], h):
                bad.append(f"{name}: taskito's verify_password disagrees")
        report(f"taskito AuthStore stored {len(table)} users in its hex "
               "pbkdf2_sha256 form, and verifies them itself",
               len(table) == len(USERS) and not bad, "; ".join(bad[:3]))

        bad = []
        for name, row in table.items():
            h, pw = row["password_hash"], passwords[name]
            got = c_api(binary, h, pw)
            if got != "match":
                bad.append(f"{name} ({pw!r}): {got}")
            got = c_api(binary, h, changed(pw))
            if got != "mismatch":
                bad.append(f"{name} wrong password: {got}")
        report(f"C API: {len(table)} taskito hashes verify (non-ASCII, 1,024 "
               "bytes), changed passwords do not", not bad, "; ".join(bad[:3]))

        bad = []
        for name, row in table.items():
            h, pw = row["password_hash"], passwords[name]
            rc, err = cli(authcore, h, pw)
            if rc != 0:
                bad.append(f"{name}: exit {rc} {err}")
            if name not in ("alice", "bjørn"):
                continue  # the C API checked every wrong password already
            rc, err = cli(authcore, h, changed(pw))
            if rc != 1 or err != "mismatch":
                bad.append(f"{name} wrong password: exit {rc} {err}")
        report("CLI: authcore verify-password exits 0 for taskito hashes, "
               "1 mismatch for changed passwords", not bad, "; ".join(bad[:3]))

        # a password change goes through taskito's own update_password
        old = table["alice"]["password_hash"]
        store.update_password("alice", NEW_PASSWORD)
        new = json.loads(queue.get_setting(tk.USERS_KEY))["alice"]["password_hash"]
        got = (c_api(binary, new, NEW_PASSWORD), c_api(binary, new, passwords["alice"]),
               cli(authcore, new, NEW_PASSWORD)[0])
        report("after taskito's update_password the new password matches, "
               "the old one does not", new != old and
               got == ("match", "mismatch", 0), f"{got}")
        passwords["alice"] = NEW_PASSWORD
        table = json.loads(queue.get_setting(tk.USERS_KEY))

        # the whole table as authcore policy users, and logins against it
        policy = {
            "sessions": {"keys": [{"kid": "s1", "secret": os.urandom(32).hex()}]},
            "users": [{"name": n, "password_hash": r["password_hash"],
                       "roles": [r["role"]]} for n, r in table.items()],
            "login": {"prefix": "/dash", "attempts": "100/minute"},
        }
        pf = os.path.join(tmp, "policy.json")
        with open(pf, "w") as f:
            json.dump(policy, f)
        r = subprocess.run([authcore, "policy", "check", pf], capture_output=True,
                           timeout=60)
        report("a policy holding taskito's user table loads", r.returncode == 0,
               r.stderr.decode().strip())

        bad = []
        state = os.path.join(tmp, "state")
        for name in ("alice", "bjørn"):
            d = login(authcore, pf, state, name, passwords[name])
            if d.get("status") != 200 or \
                    "authcore_session=" not in json.dumps(d.get("headers")):
                bad.append(f"{name}: {json.dumps(d)[:300]}")
            d = login(authcore, pf, state, name, changed(passwords[name]))
            if d.get("status") != 401 or d.get("reason") != "bad_password":
                bad.append(f"{name} wrong password: {json.dumps(d)[:300]}")
        report("logins with taskito users: right password gets a session, "
               "a changed one 401 bad_password", not bad, "; ".join(bad[:3]))
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
