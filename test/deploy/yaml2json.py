#!/usr/bin/env python3
"""YAML documents on stdin -> one JSON array on stdout (yq is not installed; PyYAML is).
With --rules: the one PrometheusRule's spec as a Prometheus rules file ({"groups": [...]})."""
import json
import sys

import yaml

docs = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]
if sys.argv[1:] == ["--rules"]:
    rules = [d for d in docs if d.get("kind") == "PrometheusRule"]
    if len(rules) != 1:
        sys.exit(f"want exactly one PrometheusRule, found {len(rules)}")
    json.dump({"groups": rules[0]["spec"]["groups"]}, sys.stdout, indent=1)
else:
    json.dump(docs, sys.stdout)
