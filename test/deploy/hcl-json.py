"""Parses HCL2 files (Terraform .tf, Packer .pkr.hcl) with python-hcl2 and prints
{path: content} as JSON; a file that does not parse is named on stderr, exit 1."""
import json
import sys

import hcl2

OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)

parsed = {}
failed = False
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as f:
            parsed[path] = hcl2.load(f, serialization_options=OPTIONS)
    except Exception as error:  # noqa: BLE001 - every parse error is reported the same way
        print(f"{path}: {type(error).__name__}: {error}", file=sys.stderr)
        failed = True
json.dump(parsed, sys.stdout)
sys.exit(1 if failed else 0)
