#!/usr/bin/python3
"""Regenerates the REST gateway's OpenAPI (Swagger 2.0) document from the
proto: proto/datapool/v1/datapool.swagger.json, which the server embeds and
serves at /openapi.json. tests/python/test_rest_gateway.py fails when the
committed document is stale.

    server/gateway/regen_openapi.py [OUT_FILE]

The generator is Debian's protoc-gen-swagger (golang-grpc-gateway 1.6.4),
fed by hand: it predates proto3 `optional`, which protoc refuses to hand to
such a plugin, so this script asks protoc for the descriptors
(--descriptor_set_out) and writes the plugin's CodeGeneratorRequest itself.
The plugin reads `optional` fields as plain ones (they are, in JSON). Then
the document gets its title, version and the bearer-token security the
server asks for.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
PROTO = "datapool/v1/datapool.proto"
DEFAULT_OUT = os.path.join(PROTO_ROOT, "datapool", "v1",
                           "datapool.swagger.json")


def tool(name):
    path = shutil.which(name)
    if path is None:
        sys.exit("regen_openapi.py: %s not found (Debian: %s)" % (
            name, {"protoc": "protobuf-compiler",
                   "protoc-gen-swagger": "golang-grpc-gateway"}[name]))
    return path


def swagger_json():
    with tempfile.TemporaryDirectory(prefix="datapool-openapi-") as tmp:
        descriptors = os.path.join(tmp, "descriptors.pb")
        subprocess.run([tool("protoc"), "-I", PROTO_ROOT, "--include_imports",
                        "--include_source_info",
                        "--descriptor_set_out=" + descriptors, PROTO],
                       check=True)
        with open(descriptors, "rb") as f:
            files = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    request = plugin_pb2.CodeGeneratorRequest(
        file_to_generate=[PROTO], parameter="json_names_for_fields=true")
    request.proto_file.extend(files.file)
    out = subprocess.run([tool("protoc-gen-swagger")],
                         input=request.SerializeToString(),
                         capture_output=True, check=True).stdout
    response = plugin_pb2.CodeGeneratorResponse.FromString(out)
    if response.error:
        sys.exit("protoc-gen-swagger: " + response.error)
    if len(response.file) != 1:
        sys.exit("protoc-gen-swagger wrote %d files, expected 1"
                 % len(response.file))
    return json.loads(response.file[0].content)


def finish(doc):
    doc["info"] = {
        "title": "Datapool REST gateway (datapool.v1)",
        "version": "v1",
        "description": (
            "The JSON/HTTP face of the datapool.v1 gRPC API, served by "
            "datapool-server --http-listen. Generated from "
            "proto/datapool/v1/datapool.proto by "
            "server/gateway/regen_openapi.py; field names in "
            "lowerCamelCase (protobuf's JSON mapping; snake_case is "
            "accepted too), 64-bit integers as strings. Errors: "
            "{\"error\", \"code\" (the gRPC code), \"message\"}."),
    }
    doc["securityDefinitions"] = {
        "bearer": {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "'Bearer <token>' when the server has "
                           "--auth-token-file"}}
    doc["security"] = [{"bearer": []}]
    # The plugin marks a client-streaming call's body "(streaming inputs)"
    # (grpc-gateway v1 reads it as newline-delimited messages); this
    # gateway reads one message and sends it as a stream of one.
    for path in doc["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("description", "").endswith(
                        "(streaming inputs)"):
                    parameter["description"] = (
                        "One request message (sent as the call's stream "
                        "of one).")
    return doc


def main(argv):
    out = argv[1] if len(argv) > 1 else DEFAULT_OUT
    text = json.dumps(finish(swagger_json()), indent=2, sort_keys=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main(sys.argv)
