#!/usr/bin/env python3
"""Checks pcmc log files against the schema written in docs/logging.md (its tables are the schema):
every line one JSON object with ts/level/component/msg, every key known and of its type, every
(component, level, msg) a listed message carrying its listed fields.

usage: logcheck.py [--schema docs/logging.md] [--source DIR...] FILE...
  FILE      a log file (lines of one program's stderr); '-' reads stdin
  --source  also checks every log call in the C files under DIR (messages and keys in the schema)
exit: 0 when every line follows the schema, 1 otherwise (each problem printed as FILE:LINE: ...),
      2 when the schema itself is broken or a file cannot be read."""
import argparse
import glob
import json
import os
import re
import sys

TYPES = {"string", "integer", "number", "boolean"}
LEVELS = ("debug", "info", "warn", "error")
ENVELOPE = ("ts", "level", "component", "msg")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class SchemaError(Exception):
    pass


def table_rows(lines):
    """Yields the cells of each markdown table row, minus header and separator rows."""
    for line in lines:
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", c) for c in cells) or cells[0] in ("field", "level"):
            continue
        yield cells


def code(cell):
    m = re.fullmatch(r"`([^`]*)`", cell)
    if not m:
        raise SchemaError(f"expected `code` in cell {cell!r}")
    return m.group(1)


def load_schema(path):
    """{'fields': {name: type}, 'messages': {(component, level, msg): [fields]}} from the document."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    sections = re.split(r"^## ", text, flags=re.M)
    by_title = {s.split("\n", 1)[0].strip(): s for s in sections}
    for title in ("Every line", "Fields", "Messages"):
        if title not in by_title:
            raise SchemaError(f"{path}: no section '## {title}'")
    fields = {}
    for cells in table_rows(by_title["Every line"].splitlines()) :
        fields[code(cells[0])] = cells[1]
    for cells in table_rows(by_title["Fields"].splitlines()):
        name, typ = code(cells[0]), cells[1]
        if name in fields:
            raise SchemaError(f"{path}: field {name} listed twice")
        fields[name] = typ
    for name, typ in fields.items():
        if typ not in TYPES:
            raise SchemaError(f"{path}: field {name} has unknown type {typ!r}")
        if not KEY.match(name):
            raise SchemaError(f"{path}: field {name} is not snake_case")
    messages = {}
    component = None
    for line in by_title["Messages"].splitlines():
        m = re.match(r"^### `([a-z-]+)`", line)
        if m:
            component = m.group(1)
            continue
        for cells in table_rows([line]):
            if component is None:
                raise SchemaError(f"{path}: message table before a '### `component`' heading")
            level, msg = cells[0], code(cells[1])
            if level not in LEVELS:
                raise SchemaError(f"{path}: message {msg!r} has unknown level {level!r}")
            listed = [code(c.strip()) for c in cells[2].split(",") if c.strip()] if len(cells) > 2 else []
            for name in listed:
                if name not in fields:
                    raise SchemaError(f"{path}: message {msg!r} lists unknown field {name}")
            key = (component, level, msg)
            if key in messages:
                raise SchemaError(f"{path}: message {msg!r} listed twice for {component} at {level}")
            messages[key] = listed
    if not messages:
        raise SchemaError(f"{path}: no messages")
    return {"fields": fields, "messages": messages}


def type_ok(value, typ):
    if value is None:
        return typ == "string"  # a string that is not known (a NULL pointer) is null
    if typ == "string":
        return isinstance(value, str)
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class DuplicateKey(Exception):
    pass


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise DuplicateKey("key given twice: " + ", ".join(dup))
    return dict(pairs)


def check_line(schema, line):
    """The problems of one log line (an empty list when it follows the schema)."""
    try:
        obj = json.loads(line, object_pairs_hook=no_duplicates)
    except DuplicateKey as e:
        return [str(e)]
    except ValueError as e:
        return [f"not a JSON object: {e}"]
    if not isinstance(obj, dict):
        return ["not a JSON object"]
    problems = [f"no {k}" for k in ENVELOPE if k not in obj]
    if problems:
        return problems
    if not isinstance(obj["ts"], str) or not TS.match(obj["ts"]):
        problems.append(f"ts {obj['ts']!r} is not UTC RFC 3339 with milliseconds")
    if obj["level"] not in LEVELS:
        problems.append(f"level {obj['level']!r} is not one of {', '.join(LEVELS)}")
    for key, value in obj.items():
        typ = schema["fields"].get(key)
        if typ is None:
            problems.append(f"unknown field {key!r} (docs/logging.md lists every field)")
        elif not type_ok(value, typ):
            problems.append(f"field {key!r} is {json.dumps(value)}, not a {typ}")
    listed = schema["messages"].get((obj["component"], obj["level"], obj["msg"]))
    if listed is None:
        problems.append(f"message {obj['msg']!r} is not listed for {obj['component']} at level {obj['level']}")
    else:
        problems += [f"message {obj['msg']!r} lacks field {k!r}" for k in listed if k not in obj]
    return problems


def check_file(schema, path):
    """Prints each problem; returns (lines, problems)."""
    f = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="surrogateescape")
    n = bad = 0
    with f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            n += 1
            for p in check_line(schema, line):
                bad += 1
                print(f"{path}:{number}: {p}: {line.strip()[:300]}")
    return n, bad


# A message may be written as adjacent string literals ("...this port can change " "this node's...").
LOG_CALL = re.compile(r"\blog_(debug|info|warn|error)\(\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+)")
LITERAL = re.compile(r"\"((?:[^\"\\]|\\.)*)\"")
LOG_KEY = re.compile(r"\bLOG_(?:STR|INT|DOUBLE|BOOL)\(\s*\"(\w+)\"")


def check_sources(schema, dirs):
    """Every literal log message of the C sources is listed (for some component) at its level, and
    every literal key is a known field. Returns the number of problems."""
    listed = {(level, msg) for (_, level, msg) in schema["messages"]}
    bad = 0
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "**", "*.c"), recursive=True)):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for m in LOG_CALL.finditer(text):
                msg = "".join(LITERAL.findall(m.group(2))).replace('\\"', '"')
                if (m.group(1), msg) not in listed:
                    bad += 1
                    line = text.count("\n", 0, m.start()) + 1
                    print(f"{path}:{line}: message {msg!r} at {m.group(1)} is not in docs/logging.md")
            for m in LOG_KEY.finditer(text):
                if m.group(1) not in schema["fields"]:
                    bad += 1
                    line = text.count("\n", 0, m.start()) + 1
                    print(f"{path}:{line}: field {m.group(1)!r} is not in docs/logging.md")
    return bad


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schema", default=os.path.join(here, "..", "..", "docs", "logging.md"))
    ap.add_argument("--source", nargs="+", default=[])
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    try:
        schema = load_schema(args.schema)
    except (OSError, SchemaError) as e:
        print(f"logcheck: schema: {e}")
        return 2
    lines = bad = 0
    try:
        for path in args.files:
            n, b = check_file(schema, path)
            lines, bad = lines + n, bad + b
    except OSError as e:
        print(f"logcheck: {e}")
        return 2
    bad += check_sources(schema, args.source)
    print(f"logcheck: {lines} lines in {len(args.files)} files, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
