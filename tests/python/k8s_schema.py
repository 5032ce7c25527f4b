"""Checks Kubernetes manifests against the API's own types, offline.

The types come from Debian's python3-kubernetes (client 22.6: the
Kubernetes 1.22 API), which carries each object's fields and their types
(`openapi_types`, `attribute_map`) and refuses objects without their
required fields. `errors(doc)` lists, for one manifest:
- fields the type does not have (a typo, or a field at the wrong level),
- values of the wrong JSON type (a number where the API wants a string,
  e.g. an unquoted env value, which the API server refuses),
- missing required fields.
Fields newer than 1.22 that the chart uses are described in NEWER_FIELDS.
Kinds without a type here (custom resources) are not checked.
"""

import re

from kubernetes import client
from kubernetes.client import models

# (type, field in the manifest) -> the field's type, for fields after 1.22.
NEWER_FIELDS = {
    # Native gRPC probes: alpha in 1.23, beta (on) in 1.24, GA in 1.27.
    ("V1Probe", "grpc"): "_GRPCAction",
}
NEWER_TYPES = {
    "_GRPCAction": {"port": "int", "service": "str"},
}
NEWER_REQUIRED = {"_GRPCAction": {"port"}}

# Fields whose values the API takes as strings or numbers (quantities).
QUANTITY_MAPS = {("V1ResourceRequirements", "limits"),
                 ("V1ResourceRequirements", "requests")}


def model_name(api_version, kind):
    version = api_version.split("/")[-1]
    return version[0].upper() + version[1:] + kind


def _check(value, type_name, path, out, quantity=False):
    m = re.match(r"list\[(.*)\]$", type_name)
    if m:
        if not isinstance(value, list):
            out.append("%s: want a list, got %r" % (path, value))
            return
        for i, v in enumerate(value):
            _check(v, m.group(1), "%s[%d]" % (path, i), out)
        return
    m = re.match(r"dict\(str, (.*)\)$", type_name)
    if m:
        if not isinstance(value, dict):
            out.append("%s: want a map, got %r" % (path, value))
            return
        for k, v in value.items():
            _check(v, m.group(1), "%s.%s" % (path, k), out, quantity)
        return
    if type_name == "str":
        ok = isinstance(value, str) or (
            quantity and isinstance(value, (int, float))
            and not isinstance(value, bool))
        if not ok:
            out.append("%s: want a string, got %r" % (path, value))
        return
    if type_name == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            out.append("%s: want an integer, got %r" % (path, value))
        return
    if type_name == "bool":
        if not isinstance(value, bool):
            out.append("%s: want true or false, got %r" % (path, value))
        return
    if type_name in ("object", "float", "datetime", "date"):
        return
    if type_name in NEWER_TYPES:
        fields = NEWER_TYPES[type_name]
        if not isinstance(value, dict):
            out.append("%s: want an object, got %r" % (path, value))
            return
        for k, v in value.items():
            if k not in fields:
                out.append("%s.%s: no such field" % (path, k))
            else:
                _check(v, fields[k], "%s.%s" % (path, k), out)
        for k in NEWER_REQUIRED.get(type_name, ()):
            if k not in value:
                out.append("%s.%s: required" % (path, k))
        return
    cls = getattr(models, type_name, None)
    if cls is None:
        out.append("%s: unknown type %s" % (path, type_name))
        return
    if not isinstance(value, dict):
        out.append("%s: want an object (%s), got %r"
                   % (path, type_name, value))
        return
    by_json = {v: k for k, v in cls.attribute_map.items()}
    for key, v in value.items():
        if (type_name, key) in NEWER_FIELDS:
            _check(v, NEWER_FIELDS[(type_name, key)],
                   "%s.%s" % (path, key), out)
            continue
        attr = by_json.get(key)
        if attr is None:
            out.append("%s.%s: no such field in %s" % (path, key, type_name))
            continue
        _check(v, cls.openapi_types[attr], "%s.%s" % (path, key), out,
               (type_name, key) in QUANTITY_MAPS)


def errors(doc):
    """Problems of one manifest (a dict), [] when it fits its type; None
    when its kind has no type here."""
    name = model_name(doc.get("apiVersion", ""), doc.get("kind", ""))
    if getattr(models, name, None) is None:
        return None
    out = []
    _check(doc, name, doc.get("kind", "?"), out)
    try:  # required fields: the client's models refuse objects without them
        client.ApiClient()._ApiClient__deserialize(doc, name)
    except (ValueError, TypeError) as e:
        out.append("%s: %s" % (doc.get("kind"), e))
    return out
