#!/usr/bin/python3
"""Validate a mailprobe JSON report against reports/schema.json.

usage: validate_report.py [--schema SCHEMA.json] REPORT.json

Exit 0 when the report is valid; 1 with the reason on stderr when it is not
(or cannot be read, or is not JSON, or the schema itself is broken).
Needs python3-jsonschema (Debian package).
"""
import json
import os
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA = os.path.join(HERE, "..", "..", "reports", "schema.json")


def fail(msg):
    print("validate_report: " + msg, file=sys.stderr)
    sys.exit(1)


def load_json(path, what):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        fail("cannot read %s %s: %s" % (what, path, e.strerror))
    try:
        # strict UTF-8: the report promises valid UTF-8 everywhere
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        fail("%s %s is not valid UTF-8: %s" % (what, path, e))
    except ValueError as e:
        fail("%s %s is not JSON: %s" % (what, path, e))


def main(argv):
    args = argv[1:]
    schema_path = DEFAULT_SCHEMA
    if len(args) == 3 and args[0] == "--schema":
        schema_path = args[1]
        args = args[2:]
    if len(args) != 1 or args[0].startswith("-"):
        fail("usage: validate_report.py [--schema SCHEMA.json] REPORT.json")

    schema = load_json(schema_path, "schema")
    report = load_json(args[0], "report")
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        fail("schema %s is invalid: %s" % (schema_path, e.message))
    errors = sorted(cls(schema).iter_errors(report), key=lambda e: list(e.absolute_path))
    if errors:
        for e in errors[:10]:
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            print("validate_report: %s: %s: %s" % (args[0], where, e.message), file=sys.stderr)
        if len(errors) > 10:
            print("validate_report: ... and %d more errors" % (len(errors) - 10), file=sys.stderr)
        sys.exit(1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
