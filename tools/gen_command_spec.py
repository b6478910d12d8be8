#!/usr/bin/env python3
"""Regenerate redislet/commands/redis_spec.json from a Redis 7.0.15 source checkout.

    python tools/gen_command_spec.py /tmp/redis-src

The spec file holds interface facts of each Redis command (arity, flags, ACL categories,
key specs, tips and the documentation fields COMMAND DOCS returns), so that COMMAND,
COMMAND INFO/DOCS/GETKEYS and ACL CAT answer exactly as Redis does. Handlers bind to these
entries with the @command decorator; nothing here is executable code from Redis.
"""
import glob
import json
import os
import sys


def conv_args(args):
    out = []
    for a in args:
        d = {"name": a["name"].lower(), "type": a["type"]}
        for k in ("key_spec_index", "token", "summary", "since", "deprecated_since"):
            if k in a:
                d[k] = a[k]
        if "token" in d:
            # as Redis's generate-command-code.py: upper-cased and written into a C string
            # literal, where a token of two quotes ('""' -> """") reads as empty
            d["token"] = d["token"].upper().replace('""', "")
        flags = [f for f in ("optional", "multiple", "multiple_token") if a.get(f)]
        if flags:
            d["flags"] = flags
        if a["type"] in ("oneof", "block"):
            d["arguments"] = conv_args(a.get("arguments", []))
        out.append(d)
    return out


def conv_keyspec(ks):
    d = {"flags": ks.get("flags", [])}
    if ks.get("notes"):
        d["notes"] = ks["notes"]
    bs = ks.get("begin_search", {})
    if "index" in bs:
        d["bs"] = ["index", bs["index"]["pos"]]
    elif "keyword" in bs:
        d["bs"] = ["keyword", bs["keyword"]["keyword"], bs["keyword"]["startfrom"]]
    else:
        d["bs"] = ["unknown"]
    fk = ks.get("find_keys", {})
    if "range" in fk:
        r = fk["range"]
        d["fk"] = ["range", r["lastkey"], r["step"], r["limit"]]
    elif "keynum" in fk:
        k = fk["keynum"]
        d["fk"] = ["keynum", k["keynumidx"], k["firstkey"], k["step"]]
    else:
        d["fk"] = ["unknown"]
    return d


def build_spec(src, sentinel=False):
    """The command descriptions of a Redis source tree in redis_spec.json's format: the
    server's commands, or (sentinel=True) only the ONLY_SENTINEL ones."""
    spec = {}
    for path in sorted(glob.glob(os.path.join(src, "src", "commands", "*.json"))):
        with open(path) as f:
            (name, v), = json.load(f).items()
        flags = [x.lower() for x in v.get("command_flags", [])]
        if ("only_sentinel" in flags) != sentinel:
            continue
        container = v.get("container")
        full = (container.lower() + "|" + name.lower()) if container else name.lower()
        e = {
            "arity": v["arity"],
            "flags": flags,
            "acl": [x.lower() for x in v.get("acl_categories", [])],
            "group": v["group"].replace("_", "-"),  # COMMAND_GROUP_STR spelling
            "summary": v.get("summary"),
            "since": v.get("since"),
            "complexity": v.get("complexity"),
        }
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
    return spec


def write_spec(spec, out):
    with open(out, "w") as f:
        json.dump(spec, f, separators=(",", ":"), sort_keys=True)
    print(f"{len(spec)} commands -> {out}")


def main(src):
    spec = build_spec(src)
    write_spec(spec, os.path.join(os.path.dirname(__file__), "..", "redislet", "commands",
                                  "redis_spec.json"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/redis-src")
