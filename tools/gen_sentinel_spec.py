"""Regenerate redislet/sentinel/sentinel_spec.json: the ONLY_SENTINEL commands (SENTINEL and its
subcommands) of Redis 7.0.15's command descriptions, in redis_spec.json's format (the main
generator, tools/gen_command_spec.py, leaves them out).

    python3 tools/gen_sentinel_spec.py [/path/to/redis-7.0.15]
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from gen_command_spec import conv_args, conv_keyspec  # noqa: E402


def main(src):
    spec = {}
    for path in sorted(glob.glob(os.path.join(src, "src", "commands", "*.json"))):
        with open(path) as f:
            (name, v), = json.load(f).items()
        flags = [x.lower() for x in v.get("command_flags", [])]
        if "only_sentinel" not in flags:
            continue
        container = v.get("container")
        full = (container.lower() + "|" + name.lower()) if container else name.lower()
        e = {"arity": v["arity"], "flags": flags,
             "acl": [x.lower() for x in v.get("acl_categories", [])],
             "group": v["group"].replace("_", "-"), "summary": v.get("summary"),
             "since": v.get("since"), "complexity": v.get("complexity")}
        for k in ("deprecated_since", "replaced_by"):
            if k in v:
                e[k] = v[k]
        if v.get("doc_flags"):
            e["doc_flags"] = [x.lower() for x in v["doc_flags"]]
        if v.get("history"):
            e["history"] = v["history"]
        if v.get("command_tips"):
            e["tips"] = [x.lower() for x in v["command_tips"]]
        if v.get("key_specs"):
            e["key_specs"] = [conv_keyspec(k) for k in v["key_specs"]]
        if v.get("arguments"):
            e["arguments"] = conv_args(v["arguments"])
        spec[full] = e
    out = os.path.join(os.path.dirname(__file__), "..", "redislet", "sentinel", "sentinel_spec.json")
    with open(out, "w") as f:
        json.dump(spec, f, separators=(",", ":"), sort_keys=True)
    print(f"{len(spec)} commands -> {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/redis-src")
