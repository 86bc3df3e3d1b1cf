#!/usr/bin/env bash
# Rebuild console/static/vendor (GraphiQL and React for the console's workbench) from its
# package-lock.json: npm installs exactly the locked versions (integrity checked) in a
# temporary directory, the UMD builds and licences are copied, and MANIFEST.json records each
# file's package, version and sha256 (tests/console/test_vendor.py checks both).
#
# To move to other versions: edit package.json there, run `npm install --package-lock-only
# --ignore-scripts` in a copy of the directory, copy the new lock back, then run this script.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
vendor="$root/console/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$vendor/package.json" "$vendor/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
modules="$work/node_modules"
# file in the vendor dir <- package, path inside the package
files=(
  "graphiql.min.js graphiql graphiql.min.js"
  "graphiql.min.css graphiql graphiql.min.css"
  "LICENSE.graphiql graphiql LICENSE"
  "react.production.min.js react umd/react.production.min.js"
  "LICENSE.react react LICENSE"
  "react-dom.production.min.js react-dom umd/react-dom.production.min.js"
  "LICENSE.react-dom react-dom LICENSE"
)
for entry in "${files[@]}"; do
  read -r name package path <<<"$entry"
  cp "$modules/$package/$path" "$vendor/$name"
done
python3 - "$vendor" "$modules" "${files[@]}" <<'PY'
import hashlib, json, pathlib, sys
vendor, modules = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
manifest = {}
for entry in sys.argv[3:]:
    name, package, path = entry.split()
    version = json.loads((modules / package / "package.json").read_text())["version"]
    digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
    manifest[name] = {"package": package, "version": version, "from": path, "sha256": digest}
(vendor / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
PY
echo "console/static/vendor rebuilt from its lock; MANIFEST.json written"
