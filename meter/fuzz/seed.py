#!/usr/bin/env python3
"""Writes a seed corpus for each fuzz target from the provider exchanges.

Each seed is what the targets expect (see src/lib.rs): a control byte that picks the family,
eight bytes that seed the cuts (and, for `encoded`, the coding), then a body. Usage:
seed.py CORPUS_DIR EXCHANGE_DIR...
"""

import base64
import json
import pathlib
import struct
import sys
import zlib

# Larger bodies make slow seeds; the unit tests cover them.
MAX_BODY = 16 * 1024
# Three cuts, and bits 0-2 free for the coding and content type of `encoded`.
SEED = 0x3A5F_0000_1234_5600


def family(path):
    """The index in FAMILIES (src/lib.rs) of the API a request path names."""
    if "count_tokens" in path:
        return 5
    for needle, index in [
        ("/messages", 0),
        ("/chat/completions", 1),
        ("/responses", 2),
        (":streamGenerateContent", 4),
        (":generateContent", 3),
    ]:
        if needle in path:
            return index
    return 6


def body(response):
    if "chunks_base64" in response:
        return b"".join(base64.b64decode(c) for c in response["chunks_base64"])
    return "".join(response["chunks"]).encode()


def seed(control, seed, data):
    return bytes([control]) + struct.pack("<Q", seed) + data


def main():
    corpus = pathlib.Path(sys.argv[1])
    for target in ["sse", "json", "request", "stripper", "encoded"]:
        (corpus / target).mkdir(parents=True, exist_ok=True)

    for folder in sys.argv[2:]:
        for path in sorted(pathlib.Path(folder).glob("*.exchange.json")):
            exchange = json.loads(path.read_text())
            name = path.name.removesuffix(".exchange.json")
            request, response = exchange["request"], exchange["response"]
            index = family(request["path"])
            bodies = [body(response)]
            if "chunks_when_usage_requested" in response:
                usage = "".join(response["chunks_when_usage_requested"]).encode()
                bodies.append(usage)
            content_type = json.dumps(response.get("headers", {})).lower()
            sse = "event-stream" in content_type

            for n, data in enumerate(b for b in bodies if len(b) <= MAX_BODY):
                stem = f"{name}-{n}"
                write(corpus / ("sse" if sse else "json") / stem, seed(index, SEED, data))
                if index == 1 and sse:
                    write(corpus / "stripper" / stem, seed(0, SEED, data))
                kind = 0 if sse else 4
                write(corpus / "encoded" / f"{stem}-plain", seed(0x40 | index, SEED | kind, data))
                coded = [
                    zlib.compressobj(wbits=31),
                    zlib.compressobj(wbits=15),
                    zlib.compressobj(wbits=-15),
                ]
                for coding, encoder in enumerate(coded):
                    stream = encoder.compress(data) + encoder.flush()
                    control = seed(index, SEED | kind | coding, stream)
                    write(corpus / "encoded" / f"{stem}-{coding}", control)

            text = request.get("body_text")
            request_body = text.encode() if text else json.dumps(request.get("body")).encode()
            write(corpus / "request" / name, seed(0, SEED, request_body))
            streamed = dict(request.get("body") or {}, stream=True)
            write(corpus / "request" / f"{name}-stream", seed(0, SEED, json.dumps(streamed).encode()))


def write(path, data):
    if not path.exists():
        path.write_bytes(data)


if __name__ == "__main__":
    main()
