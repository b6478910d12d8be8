"""Regenerate redislet/sentinel/sentinel_spec.json: the ONLY_SENTINEL commands (SENTINEL and its
subcommands) of Redis 7.0.15's command descriptions, in redis_spec.json's format (the main
generator, tools/gen_command_spec.py, leaves them out).

    python3 tools/gen_sentinel_spec.py [/path/to/redis-7.0.15]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from gen_command_spec import build_spec, write_spec  # noqa: E402


def main(src):
    write_spec(build_spec(src, sentinel=True),
               os.path.join(os.path.dirname(__file__), "..", "redislet", "sentinel",
                            "sentinel_spec.json"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/redis-src")
