"""A stand-in for the Hugging Face Hub's HTTP API on 127.0.0.1, for offline tests.

It serves a few fabricated model repos, each with branches (Pythia's
``step1000``), so the real ``huggingface_hub`` client code runs against it:

    GET  /api/models/{repo}[/revision/{rev}][?blobs=true]   HfApi.model_info / repo_info
    GET  /api/models/{repo}/refs                             HfApi.list_repo_refs
    GET  /api/models/{repo}/tree/{rev}[/{path}]              HfApi.list_repo_tree (snapshot_download)
    HEAD /{repo}/resolve/{rev}/{filename}                    get_hf_file_metadata
    GET  /{repo}/resolve/{rev}/{filename}                    hf_hub_download

The JSON has the real endpoints' shape (siblings with ``rfilename``, ``size``,
``blobId`` and, for LFS files, ``lfs: {sha256, size, pointerSize}``), and the
download headers are the ones ``huggingface_hub.file_download`` reads
(``X-Repo-Commit``, ``ETag``, ``X-Linked-Etag``, ``X-Linked-Size``,
``Content-Length``). A missing repo, revision or file is a 404 with the hub's
``X-Error-Code`` (``RepoNotFound`` / ``RevisionNotFound`` / ``EntryNotFound``),
so the client raises its real exceptions. Every request is logged in
``HubStub.requests`` (method, path), so a test can check that nothing was
downloaded.

    stub = HubStub(); stub.add("org/model", "step0", folder); url = stub.start()
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".h5", ".msgpack")
POINTER_SIZE = 134  # bytes of a git-lfs pointer file, as the hub reports it


@dataclass
class Blob:
    data: bytes
    lfs: bool

    @property
    def oid(self) -> str:
        """The ETag the hub gives: sha256 for LFS files, the git blob sha1 otherwise."""
        return self.sha256 if self.lfs else self.git_sha1

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def git_sha1(self) -> str:
        return hashlib.sha1(b"blob %d\0" % len(self.data) + self.data).hexdigest()


@dataclass
class Revision:
    files: dict[str, Blob]
    commit: str


@dataclass
class HubStub:
    """Repos (repo id -> branch -> files) served over HTTP on 127.0.0.1."""

    repos: dict[str, dict[str, Revision]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def add(self, repo: str, revision: str, folder: Path) -> str:
        """Serve the files of ``folder`` as branch ``revision`` of ``repo``; returns its commit."""
        files = {p.relative_to(folder).as_posix(): Blob(p.read_bytes(), p.name.endswith(LFS_SUFFIXES))
                 for p in sorted(Path(folder).rglob("*")) if p.is_file()}
        files[".gitattributes"] = Blob(b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n", False)
        tree = "".join(f"{name} {b.oid}\n" for name, b in sorted(files.items()))
        commit = hashlib.sha1(f"{repo}@{revision}\n{tree}".encode()).hexdigest()
        self.repos.setdefault(repo, {})[revision] = Revision(files, commit)
        return commit

    def downloads(self) -> list[str]:
        """Paths of every file GET so far (a metadata-only client makes none)."""
        return [p for m, p in self.requests if m == "GET" and "/resolve/" in p]

    # --- the server ---------------------------------------------------------
    def start(self) -> str:
        """Listen on a free port of 127.0.0.1 in a daemon thread; return the endpoint URL."""
        stub = self

        class Handler(_Handler):
            hub = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- lookups shared by the handler ---------------------------------------
    def revision(self, repo: str, rev: str) -> Revision | None:
        """A branch by name, or by its commit sha (snapshot_download asks by commit)."""
        revs = self.repos[repo]
        if rev in revs:
            return revs[rev]
        return next((r for r in revs.values() if r.commit == rev), None)


class _Handler(BaseHTTPRequestHandler):
    hub: HubStub

    def log_message(self, *args) -> None:  # quiet: tests read hub.requests instead
        pass

    def do_GET(self) -> None:
        self._route(body=True)

    def do_HEAD(self) -> None:
        self._route(body=False)

    def _route(self, body: bool) -> None:
        url = urlsplit(self.path)
        self.hub.requests.append((self.command, url.path))
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = parse_qs(url.query)
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            self._api(parts[2] + "/" + parts[3], parts[4:], query, body)
        elif len(parts) >= 5 and parts[2] == "resolve":
            self._resolve(parts[0] + "/" + parts[1], parts[3], "/".join(parts[4:]), body)
        else:
            self._error(404, "EntryNotFound", f"no route {url.path}", body)

    # --- /api/models/... -------------------------------------------------------
    def _api(self, repo: str, rest: list[str], query: dict, body: bool) -> None:
        if repo not in self.hub.repos:
            return self._error(404, "RepoNotFound", "Repository not found", body)
        if rest == ["refs"]:
            return self._json(_refs(self.hub.repos[repo]), body)
        if not rest or rest[0] in ("revision", "tree"):
            rev_name = rest[1] if len(rest) > 1 else "main"
            rev = self.hub.revision(repo, rev_name)
            if rev is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev_name}", body)
            if rest and rest[0] == "tree":
                return self._json(_tree(rev, "/".join(rest[2:])), body)
            return self._json(_model_info(repo, rev, "true" in query.get("blobs", [])), body)
        return self._error(404, "EntryNotFound", f"no route for {'/'.join(rest)}", body)

    # --- /{repo}/resolve/{rev}/{filename} ---------------------------------------
    def _resolve(self, repo: str, rev_name: str, filename: str, body: bool) -> None:
        if repo not in self.hub.repos:
            return self._error(404, "RepoNotFound", "Repository not found", body)
        rev = self.hub.revision(repo, rev_name)
        if rev is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev_name}", body)
        blob = rev.files.get(filename)
        if blob is None:
            return self._error(404, "EntryNotFound", f"Entry not found: {filename}", body)
        headers = {"X-Repo-Commit": rev.commit, "ETag": f'"{blob.oid}"',
                   "Content-Type": "application/octet-stream"}
        if blob.lfs:
            headers |= {"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(len(blob.data))}
        self._send(200, headers, blob.data, body)

    # --- responses ---------------------------------------------------------------
    def _json(self, obj, body: bool) -> None:
        self._send(200, {"Content-Type": "application/json"}, json.dumps(obj).encode(), body)

    def _error(self, status: int, code: str, message: str, body: bool) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message,
                   "Content-Type": "application/json"}
        self._send(status, headers, json.dumps({"error": message}).encode(), body)

    def _send(self, status: int, headers: dict, data: bytes, body: bool) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)


def _sibling(name: str, blob: Blob, blobs: bool) -> dict:
    row: dict = {"rfilename": name}
    if blobs:
        row |= {"blobId": blob.git_sha1 if not blob.lfs else hashlib.sha1(blob.sha256.encode()).hexdigest(),
                "size": len(blob.data)}
        if blob.lfs:
            row["lfs"] = {"sha256": blob.sha256, "size": len(blob.data), "pointerSize": POINTER_SIZE}
    return row


def _model_info(repo: str, rev: Revision, blobs: bool) -> dict:
    """The shape of GET /api/models/{repo}/revision/{rev} (a subset of its keys)."""
    author = repo.split("/")[0]
    return {
        "_id": hashlib.sha1(repo.encode()).hexdigest()[:24], "id": repo, "modelId": repo,
        "author": author, "sha": rev.commit, "lastModified": "2023-01-01T00:00:00.000Z",
        "createdAt": "2023-01-01T00:00:00.000Z", "private": False, "disabled": False,
        "gated": False, "downloads": 0, "likes": 0, "tags": ["safetensors", "gpt_neox"],
        "library_name": "transformers", "pipeline_tag": "text-generation",
        "siblings": [_sibling(n, b, blobs) for n, b in sorted(rev.files.items())],
        "spaces": [],
    }


def _refs(revs: dict[str, Revision]) -> dict:
    """The shape of GET /api/models/{repo}/refs."""
    branches = [{"name": name, "ref": f"refs/heads/{name}", "targetCommit": r.commit}
                for name, r in revs.items()]
    return {"branches": branches, "converts": [], "tags": []}


def _tree(rev: Revision, under: str) -> list[dict]:
    """The shape of GET /api/models/{repo}/tree/{rev} (recursive listing of files)."""
    rows = []
    for name, blob in sorted(rev.files.items()):
        if under and not name.startswith(under.rstrip("/") + "/"):
            continue
        row = {"type": "file", "oid": blob.git_sha1, "size": len(blob.data), "path": name}
        if blob.lfs:
            row["lfs"] = {"oid": blob.sha256, "size": len(blob.data), "pointerSize": POINTER_SIZE}
        rows.append(row)
    return rows
