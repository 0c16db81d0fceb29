"""A small Iceberg REST catalog server for the tests (test scaffolding, like chdb_http.py for ClickHouse).

It serves the Iceberg REST catalog API (config, namespaces, list / load / create / commit / drop table) on a free
loopback port, backed by a pyiceberg ``SqlCatalog`` on a SQLite file: commit requests are parsed with pyiceberg's own
pydantic models (``CommitTableRequest``: ``TableRequirement`` / ``TableUpdate``) and applied by the SQL catalog's
``commit_table`` (requirements checked, new metadata file written, pointer swapped), so a table served here is the
same table a ``type = "sql"`` catalog on that file sees.

Usage: ``python iceberg_rest.py --db <catalog.db> --warehouse <dir> [--name metaxy] [--token T] [--prefix P]``.
Prints ``PORT <n>`` on its first stdout line once it listens; exits when its stdin closes (the test process that
started it is gone) or on SIGTERM. With ``--token``, every request must carry ``Authorization: Bearer <T>`` (401
otherwise); with ``--prefix``, ``GET /v1/config`` answers ``overrides.prefix`` and routes are served under it.
"""

import argparse
import json
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

from pydantic import ValidationError
from pyiceberg.catalog.rest import CreateTableRequest, TableResponse
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.table import CommitTableRequest
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER

LOCK = threading.Lock()


class ApiError(Exception):
    def __init__(self, code, kind, message):
        super().__init__(message)
        self.code, self.kind, self.message = code, kind, message


def error_of(e):
    if isinstance(e, ApiError):
        return e
    table = [
        (NoSuchTableError, 404, "NoSuchTableException"),
        (NoSuchNamespaceError, 404, "NoSuchNamespaceException"),
        (TableAlreadyExistsError, 409, "AlreadyExistsException"),
        (NamespaceAlreadyExistsError, 409, "AlreadyExistsException"),
        (NamespaceNotEmptyError, 409, "NamespaceNotEmptyException"),
        (CommitFailedException, 409, "CommitFailedException"),
        (ValidationError, 400, "BadRequestException"),
        (ValueError, 400, "BadRequestException"),
    ]
    for cls, code, kind in table:
        if isinstance(e, cls):
            return ApiError(code, kind, " / ".join(str(e).splitlines()) if str(e) else kind)
    return ApiError(500, "ServerError", f"{type(e).__name__}: {e}")


def namespace_of(segment):
    return tuple(unquote(segment).split("\x1f"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    catalog = None
    token = None
    prefix = None

    def log_message(self, *args):
        pass

    def send_json(self, code, body=None):
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return raw.decode() if raw else "{}"

    def route(self):
        if self.token is not None and self.headers.get("Authorization") != f"Bearer {self.token}":
            raise ApiError(401, "NotAuthorizedException", "missing or wrong bearer token")
        parts = [p for p in urlparse(self.path).path.split("/") if p]
        if parts[:1] != ["v1"]:
            raise ApiError(404, "NotFound", f"no route {self.path}")
        parts = parts[1:]
        if parts == ["config"] and self.command == "GET":
            overrides = {"prefix": self.prefix} if self.prefix else {}
            return 200, {"defaults": {}, "overrides": overrides}
        if self.prefix:
            if parts[:1] != [self.prefix]:
                raise ApiError(404, "NotFound", f"no route {self.path}")
            parts = parts[1:]
        cat, m = self.catalog, self.command
        if parts == ["namespaces"]:
            if m == "GET":
                return 200, {"namespaces": [list(ns) for ns in cat.list_namespaces()]}
            if m == "POST":
                req = json.loads(self.body())
                ns = tuple(req["namespace"])
                cat.create_namespace(ns, req.get("properties") or {})
                return 200, {"namespace": list(ns), "properties": req.get("properties") or {}}
        if len(parts) == 2 and parts[0] == "namespaces":
            ns = namespace_of(parts[1])
            if m in ("GET", "HEAD"):
                props = cat.load_namespace_properties(ns)
                return 200, {"namespace": list(ns), "properties": props}
            if m == "DELETE":
                cat.drop_namespace(ns)
                return 204, None
        if len(parts) == 3 and parts[0] == "namespaces" and parts[2] == "tables":
            ns = namespace_of(parts[1])
            if m == "GET":
                cat.load_namespace_properties(ns)
                ids = [{"namespace": list(t[:-1]), "name": t[-1]} for t in cat.list_tables(ns)]
                return 200, {"identifiers": ids}
            if m == "POST":
                # absent optionals (iceberg-rust leaves them out): null for pyiceberg's model, which requires them
                body = json.loads(self.body())
                for k in ("location", "partition-spec", "write-order"):
                    body.setdefault(k, None)
                req = CreateTableRequest.model_validate(body)
                table = cat.create_table(
                    ns + (req.name,),
                    schema=req.table_schema,
                    location=req.location,
                    partition_spec=req.partition_spec or UNPARTITIONED_PARTITION_SPEC,
                    sort_order=req.write_order or UNSORTED_SORT_ORDER,
                    properties=req.properties,
                )
                return 200, table_response(table)
        if len(parts) == 4 and parts[0] == "namespaces" and parts[2] == "tables":
            ident = namespace_of(parts[1]) + (unquote(parts[3]),)
            if m in ("GET", "HEAD"):
                return 200, table_response(cat.load_table(ident))
            if m == "POST":
                req = CommitTableRequest.model_validate_json(self.body())
                table = cat.load_table(ident)
                resp = cat.commit_table(table, req.requirements, req.updates)
                return 200, resp.model_dump_json().encode()
            if m == "DELETE":
                cat.drop_table(ident)
                return 204, None
        raise ApiError(404, "NotFound", f"no route {m} {self.path}")

    def handle_any(self):
        try:
            with LOCK:
                code, body = self.route()
        except Exception as e:  # every failure is an Iceberg REST ErrorResponse
            err = error_of(e)
            if err.code == 500:
                traceback.print_exc(file=sys.stderr)
            body = {"error": {"message": err.message, "type": err.kind, "code": err.code}}
            code = err.code
        self.send_json(code, body)

    do_GET = do_POST = do_DELETE = do_HEAD = handle_any


def table_response(table):
    resp = TableResponse(metadata_location=table.metadata_location, metadata=table.metadata, config={})
    return resp.model_dump_json().encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--name", default="metaxy")
    ap.add_argument("--token")
    ap.add_argument("--prefix")
    a = ap.parse_args()
    Handler.catalog = SqlCatalog(a.name, uri=f"sqlite:///{a.db}", warehouse=f"file://{a.warehouse}")
    Handler.token, Handler.prefix = a.token, a.prefix
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)

    def watch_stdin():
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
