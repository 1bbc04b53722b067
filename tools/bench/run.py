"""make bench: authcore and its peers, side by side, in one run on this machine.

Mints one HS256 token (Python's hmac, independent of every implementation
measured), runs the native driver (authcore, libjwt, OpenSSL), PyJWT in this
process and the Node driver (the edge module, the wasm core, jose), then
prints ONE table and writes it to build/bench/results.md.

Every figure is time per operation: the median over 7 runs of N calls, after
a warm-up run. Targets from the design brief are printed next to the
measured ratios; they are targets, not assertions: this never fails on them.

BENCH_SCALE=0.2 shrinks every N (quick look); the default fits in about a
minute on 2 cores.
"""
import base64
import hashlib
import hmac
import json
import os
import platform
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(TOP, "build", "bench")
RUNS = 7
SCALE = float(os.environ.get("BENCH_SCALE", "1") or 1)

SECRET = "bench-hs256-secret-0123456789abcdef-xyz"
ISSUER = "https://issuer.example"
AUDIENCE = "api"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(now):
    hdr = {"alg": "HS256", "typ": "JWT"}
    pl = {"sub": "alice@example.com", "iss": ISSUER, "aud": AUDIENCE, "iat": now,
          "exp": now + 3600, "roles": ["reader", "writer"]}
    si = b64(json.dumps(hdr, separators=(",", ":")).encode()) + "." + \
        b64(json.dumps(pl, separators=(",", ":")).encode())
    sig = hmac.new(SECRET.encode(), si.encode(), hashlib.sha256).digest()
    return si + "." + b64(sig)


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:  # noqa: BLE001 - a missing tool only blanks a version
        return ""


def dpkg_version(pkg):
    return sh(f"dpkg-query -W -f='${{Version}}' {pkg} 2>/dev/null") or "?"


def machine():
    model, n = "?", 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("processor"):
                    n += 1
    except OSError:
        pass
    return model, n or os.cpu_count() or 0


def parse(lines, results, versions, notes):
    for line in lines.splitlines():
        parts = line.split(" ", 5)
        if parts[0] == "RESULT" and len(parts) >= 6:
            results[(parts[1], parts[2])] = (float(parts[3]), int(parts[4]), int(parts[5]))
        elif parts[0] == "VERSION":
            versions[parts[1]] = line.split(" ", 2)[2]
        elif parts[0] in ("PENDING", "FAILED"):
            notes[(parts[1], parts[2])] = parts[0].lower() + ": " + " ".join(parts[3:])


def run_driver(cmd, results, versions, notes, label):
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=TOP, timeout=600,
                       env=dict(os.environ, BENCH_SCALE=str(SCALE)))
    parse(p.stdout, results, versions, notes)
    if p.returncode != 0:
        notes[(label, "driver")] = f"failed: exit {p.returncode}: {p.stderr.strip()[-300:]}"
    return time.time() - t0


def pyjwt_bench(token, now, results, versions, notes):
    import jwt  # PyJWT, pinned in tools/requirements.txt

    versions["pyjwt"] = f"PyJWT {jwt.__version__} (Python {platform.python_version()})"

    def once():
        c = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
                       leeway=60, options={"require": ["exp", "iss", "aud", "sub"]})
        return c["sub"] is not None

    # PyJWT reads the clock itself; the token is valid for an hour from now.
    try:
        once()
    except Exception as e:  # noqa: BLE001
        notes[("hs256", "pyjwt")] = f"failed: {e}"
        return
    n = max(1, round(20000 * SCALE))
    per = []
    for r in range(-1, RUNS):
        k = max(1, n // 4) if r < 0 else n
        t0 = time.perf_counter_ns()
        for _ in range(k):
            once()
        if r >= 0:
            per.append((time.perf_counter_ns() - t0) / k)
    results[("hs256", "pyjwt")] = (statistics.median(per), n, RUNS)


def fmt_t(ns):
    if ns is None:
        return "-"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns / 1e3:.2f} µs"


def main():
    os.makedirs(OUT, exist_ok=True)
    now = int(time.time())
    token = mint(now)
    results, versions, notes = {}, {}, {}
    t_start = time.time()

    native = os.path.join(OUT, "bench_native")
    run_driver([native, token, SECRET, ISSUER, AUDIENCE, str(now)], results, versions, notes, "native")
    pyjwt_bench(token, now, results, versions, notes)
    run_driver(["node", "--no-warnings", os.path.join(TOP, "tools/bench/bench_node.mjs"),
                token, SECRET, ISSUER, AUDIENCE, str(now)], results, versions, notes, "node")
    elapsed = time.time() - t_start

    model, cores = machine()
    cc = sh("cc --version | head -1")
    em = dpkg_version("emscripten")
    versions.setdefault("authcore", "?")

    def r(case, impl):
        return results.get((case, impl))

    def t(case, impl):
        x = r(case, impl)
        return x[0] if x else None

    rows = []  # (section, operation, implementation, time, N, vs, target)

    def row(section, op, case, impl, label, base=None, target=""):
        x = r(case, impl)
        if x is None:
            note = notes.get((case, impl)) or notes.get((case, impl.split("-")[0])) or "not measured"
            rows.append((section, op, label, note, "-", "", target))
            return
        vs = ""
        if base is not None and t(*base) is not None:
            ratio = x[0] / t(*base)
            vs = f"{ratio:.2f}x"
        rows.append((section, op, label, fmt_t(x[0]), f"{x[1]:,} × {x[2]}", vs, target))

    # 1. native HS256
    row("1", "HS256 verify + exp/iss/aud/sub", "hs256", "authcore", "authcore native (ac_jwt_verify, key made once)", ("hs256", "authcore"))
    row("1", "", "hs256", "libjwt", f"libjwt {dpkg_version('libjwt-dev')} (jwt_decode + claim checks)", ("hs256", "authcore"), "authcore ≥ 3x faster")
    row("1", "", "hs256", "pyjwt", versions.get("pyjwt", "PyJWT") + " jwt.decode", ("hs256", "authcore"))
    # 2. wasm in Node vs jose
    row("2", "HS256 in Node (V8)", "hs256", "edge-decide", "authcore edge module: auth.decide(request) → decision", ("hs256", "edge-decide"))
    row("2", "", "hs256", "acw-decide", "authcore wasm, flat ABI _acw_decide (no JSON.parse)", ("hs256", "edge-decide"))
    row("2", "", "hs256", "wasm-verify", "authcore wasm, ac_jwt_verify export (1 JS call each)", ("hs256", "edge-decide"))
    row("2", "", "hs256", "wasm-loop", "authcore wasm, ac_jwt_verify in a wasm loop", ("hs256", "edge-decide"))
    row("2", "", "hs256", "jose", f"jose {versions.get('jose', '?')} jwtVerify, CryptoKey imported once", ("hs256", "edge-decide"), "authcore ≥ 10x faster")
    # 3. RS256 / ES256
    for case, name in (("rs256", "RS256 (RSA-2048)"), ("es256", "ES256 (P-256)")):
        row("3", f"{name} verify", case, "authcore-verify", "authcore native ac_jwt_verify (full token + claims)", (case, "openssl"))
        row("3", "", case, "authcore-sig", "authcore native ac_jws_check (signature only)", (case, "openssl"))
        row("3", "", case, "openssl", "OpenSSL EVP_DigestVerify (signature only)", (case, "openssl"),
            "authcore within 1.5x" if case == "rs256" else "")

    def ratio(a, b):
        ta, tb = t(*a), t(*b)
        return tb / ta if ta and tb else None

    summary = []

    def summ(label, val, target, ok_if=None):
        if val is None:
            summary.append(f"| {label} | pending / not measured | {target} | |")
        else:
            status = "" if ok_if is None else ("met" if ok_if(val) else "NOT met")
            summary.append(f"| {label} | {val:.2f}x | {target} | {status} |")

    summ("libjwt time / authcore native time", ratio(("hs256", "authcore"), ("hs256", "libjwt")), "≥ 3x", lambda v: v >= 3)
    summ("PyJWT time / authcore native time", ratio(("hs256", "authcore"), ("hs256", "pyjwt")), "-")
    summ("jose time / authcore edge decide time", ratio(("hs256", "edge-decide"), ("hs256", "jose")), "≥ 10x", lambda v: v >= 10)
    summ("jose time / authcore wasm ac_jwt_verify time", ratio(("hs256", "wasm-verify"), ("hs256", "jose")), "≥ 10x", lambda v: v >= 10)
    rs = ratio(("rs256", "openssl"), ("rs256", "authcore-verify"))
    summ("authcore RS256 time / OpenSSL time", rs, "≤ 1.5x", lambda v: v <= 1.5)
    es = ratio(("es256", "openssl"), ("es256", "authcore-verify"))
    summ("authcore ES256 time / OpenSSL time", es, "-")
    wn = ratio(("hs256", "authcore"), ("hs256", "wasm-loop"))
    summ("authcore wasm (loop) time / native time", wn, "- (PBKDF2 brief: wasm within 1.6x)")

    lines = []
    lines.append(f"# authcore benchmark ({time.strftime('%Y-%m-%d %H:%M:%S %Z')})")
    lines.append("")
    lines.append(f"- machine: {model}, {cores} cores, {platform.system()} {platform.release()}")
    lines.append(f"- authcore {versions.get('authcore')}; native build: {cc}, CFLAGS of `make lib`; "
                 f"BearSSL {dpkg_version('libbearssl-dev')} (Debian)")
    lines.append(f"- peers: libjwt {dpkg_version('libjwt-dev')} (Debian, OpenSSL backend); "
                 f"{versions.get('openssl', 'OpenSSL ?')}; {versions.get('pyjwt', 'PyJWT ?')}; "
                 f"jose {versions.get('jose', '?')}; {versions.get('node', 'node ?')}; Emscripten {em} (Debian)")
    lines.append(f"- one token for every HS256 row: {len(token)} bytes, claims sub/iss/aud/iat/exp/roles; "
                 f"checks: signature, exp (leeway 60 s), iss, aud, sub present. RS256/ES256: a fresh "
                 f"OpenSSL key pair, the same claims signed by OpenSSL, public key as PEM for both sides")
    lines.append(f"- time per operation = median of {RUNS} runs of N calls (after a warm-up run); "
                 f"ratio column = time / the row it is compared with (section 1: authcore native; "
                 f"2: the edge module's decide; 3: OpenSSL)")
    lines.append("")
    lines.append("| # | operation | implementation | time/op | N × runs | time vs | target |")
    lines.append("|---|---|---|---:|---:|---:|---|")
    for sec, op, impl, tm, n, vs, target in rows:
        lines.append(f"| {sec} | {op} | {impl} | {tm} | {n} | {vs} | {target} |")
    lines.append("")
    lines.append("| ratio | measured | target (not asserted) | |")
    lines.append("|---|---:|---|---|")
    lines.extend(summary)
    extra = [f"- {k[0]} {k[1]}: {v}" for k, v in notes.items() if r(*k) is None]
    if extra:
        lines.append("")
        lines.append("Notes:")
        lines.extend(extra)
    lines.append("")
    lines.append(f"Total bench time {elapsed:.0f} s (BENCH_SCALE={SCALE:g}).")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(text)
    print(f"(written to {os.path.relpath(os.path.join(OUT, 'results.md'), TOP)})")


if __name__ == "__main__":
    main()
