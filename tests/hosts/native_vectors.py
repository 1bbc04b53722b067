"""Decision vectors through the native core, via `authcore decide`."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import vectors  # noqa: E402

CLI = os.path.join(vectors.ROOT, "build", "bin", "authcore")


def main():
    ok = True
    now = int(time.time())
    with tempfile.TemporaryDirectory() as d:
        for vf in vectors.load_vector_files():
            pol = os.path.join(d, vf.name + ".json")
            with open(pol, "w") as f:
                f.write(vf.policy_json)
            state = os.path.join(d, vf.name + ".state")
            env = dict(os.environ, **vf.env)
            for case in vf.cases(now):
                if vectors.skipped(case, "native"):
                    continue
                # one state file per vector file: cases run in order
                # against the same login counters, as in a real host
                p = subprocess.run([CLI, "decide", "--policy", pol, "--now", str(now),
                                    "--state", state],
                                   input=json.dumps(vectors.request_json(case)).encode(),
                                   capture_output=True, timeout=60, env=env)
                if p.returncode != 0:
                    ok &= vectors.report(case, ["exit %d: %s" % (p.returncode, p.stderr.decode()[:300])], "native")
                    continue
                dec = json.loads(p.stdout)
                # an allowed answer: the decision's headers applied to the
                # test upstream's own, as a host does
                own = vectors.upstream_own_headers(case) if dec["action"] == "allow" else []
                hdrs = vectors.joined(vectors.apply_response_headers(own, dec["headers"]))
                cookies = [e[1] for e in dec["headers"] if e[0].lower() == "set-cookie"]
                up = vectors.apply_decision(case, dec) if dec["action"] == "allow" else None
                probs = vectors.check(case, dec["status"], hdrs, up, dec["reason"], cookies,
                                      dec["body"])
                audit = dec.get("audit")
                probs += vectors.audit_seen(case, "native", 0 if audit is None else 1)
                if audit is not None and audit.get("reason") != dec["reason"]:
                    probs.append("audit reason %r, decision %r" % (audit.get("reason"), dec["reason"]))
                ok &= vectors.report(case, probs, "native")
    ok &= vectors.sampling_report("native")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
