"""Benchmark data: random blobs from a fixed seed, written into an OCI-layout
content store, and a build-graph fixture (fixtures/README.md, "graphs") whose
results use them.

The blobs are random bytes, not tarballs: the exporter only needs digest =
sha256 of the bytes, and a diffID that is a valid digest. Same seed, same
sizes -> same bytes, so runs on different days move the same data."""

import hashlib
import json
import os
import random

CHUNK = 8 * 1024 * 1024
MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CREATED = "2024-05-01T12:00:00Z"


def _fake_digest(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def write_blob(blob_dir, rng, size):
    """Streams `size` random bytes into blob_dir/<sha256>; returns the digest."""
    tmp = os.path.join(blob_dir, ".incoming")
    h = hashlib.sha256()
    with open(tmp, "wb") as f:
        left = size
        while left > 0:
            n = min(CHUNK, left)
            data = rng.randbytes(n)
            h.update(data)
            f.write(data)
            left -= n
    hexd = h.hexdigest()
    os.replace(tmp, os.path.join(blob_dir, hexd))
    return "sha256:" + hexd


def make_dataset(root, sizes, seed, chain_len=8):
    """Writes root/store (OCI layout) and root/graph.json for blobs of the given
    sizes. The vertices form chains of `chain_len` steps on one root, each step
    adding one layer, like a Dockerfile's RUN lines; every chain's end is a
    target and with mode=max every step exports its result, so the manifest
    references every blob. Each layer descriptor is written once, in the
    graph's "blobs", and results name their layers by index into it: the
    fixture stays small, so loading it is a small part of a warm export.

    Returns {"graph", "blob_dir", "blobs": [(digest, size)], "bytes"}."""
    store = os.path.join(root, "store")
    blob_dir = os.path.join(store, "blobs", "sha256")
    os.makedirs(blob_dir, exist_ok=True)
    with open(os.path.join(store, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    rng = random.Random(seed)
    blobs = [(write_blob(blob_dir, rng, size), size) for size in sizes]

    descriptors = [
        {
            "digest": digest,
            "size": size,
            "mediaType": MEDIA_TYPE,
            "diffID": _fake_digest("diff-" + digest),
            "createdAt": CREATED,
        }
        for digest, size in blobs
    ]
    vertices = [{"id": "base", "digest": _fake_digest("bench-base-%d" % seed)}]
    chain = []
    prev = "base"
    targets = []  # every chain's last step: export walks back from the targets
    for i in range(len(blobs)):
        if i % chain_len == 0:
            if chain:
                targets.append(prev)
            chain = []
            prev = "base"
        chain.append(i)
        vid = "step-%d" % i
        vertices.append(
            {
                "id": vid,
                "digest": _fake_digest("bench-step-%d-%d" % (seed, i)),
                "inputs": [[{"vertex": prev}]],
                "result": {"remote": False, "createdAt": CREATED, "layers": list(chain)},
            }
        )
        prev = vid
    if chain:
        targets.append(prev)
    graph = {
        "description": "benchmark data: %d random blobs, seed %d" % (len(blobs), seed),
        "store": "store",
        "blobs": descriptors,
        "vertices": vertices,
        "targets": targets,
    }
    graph_path = os.path.join(root, "graph.json")
    with open(graph_path, "w") as f:
        json.dump(graph, f, separators=(",", ":"))
    return {
        "graph": graph_path,
        "blob_dir": blob_dir,
        "blobs": blobs,
        "bytes": sum(size for _, size in blobs),
    }


def write_manifest(path, n_records, chain_len=8):
    """Writes an S3 cache manifest (the cache config JSON, compact) of
    n_records records shaped like a mode=max export of the fixtures above: one
    root, chains of `chain_len` steps on it, each step linking the one before
    and adding one layer on top of that step's. Every record has one result;
    layers are shared down each chain, and every tenth step links the root a
    second time with a selector. Returns the number of bytes written."""
    layers, records = [], [{"digest": _fake_digest("manifest-root")}]
    prev_record, prev_layer = 0, -1
    for i in range(1, n_records):
        if (i - 1) % chain_len == 0:
            prev_record, prev_layer = 0, -1
        digest = _fake_digest("manifest-blob-%d" % i)
        layer = {"blob": digest, "parent": prev_layer,
                 "annotations": {"mediaType": MEDIA_TYPE, "diffID": _fake_digest("diff-" + digest),
                                 "size": 4096 + i, "createdAt": CREATED}}
        if prev_layer == 0:
            del layer["parent"]  # Go omits a parent of 0
        layers.append(layer)
        inputs = [[{"link": prev_record}]]
        if i % 10 == 0:
            inputs.append([{"selector": "/src/%d" % i, "link": 0}])
        records.append({"layers": [{"layer": len(layers) - 1, "createdAt": CREATED}],
                        "digest": _fake_digest("manifest-step-%d" % i), "inputs": inputs})
        prev_record, prev_layer = len(records) - 1, len(layers) - 1
    text = json.dumps({"layers": layers, "records": records}, separators=(",", ":"))
    with open(path, "w") as f:
        f.write(text)
    return len(text)

