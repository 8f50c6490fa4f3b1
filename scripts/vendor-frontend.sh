#!/usr/bin/env bash
# Vendors the front-end packages the web app and its browser tests use, from the npm registry,
# into the project (run it only to change a version; the results are committed):
#   - nhsuk-frontend (MIT, NHS England): the NHS.UK design system's compiled CSS and JS, into
#     web/static/nhsuk/. The @font-face rules are removed (they load the Frutiger web font from
#     assets.nhs.uk, and nothing may come from another host; the stack falls back to Arial),
#     and the icon URLs are pointed at /static/nhsuk/images/.
#   - axe-core (MPL-2.0, Deque Systems): the accessibility checker, for the browser tests only,
#     into tests/vendor/.
set -euo pipefail
cd "$(dirname "$0")/.."

NHSUK_VERSION=10.6.1
AXE_VERSION=4.11.4

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "nhsuk-frontend@$NHSUK_VERSION" "axe-core@$AXE_VERSION" >/dev/null)
mkdir -p "$work/nhsuk" "$work/axe"
tar xzf "$work/nhsuk-frontend-$NHSUK_VERSION.tgz" -C "$work/nhsuk"
tar xzf "$work/axe-core-$AXE_VERSION.tgz" -C "$work/axe"

dist="$work/nhsuk/package/dist/nhsuk"
out=web/static/nhsuk
rm -rf "$out"
mkdir -p "$out/images"
python3 - "$dist/nhsuk-frontend-$NHSUK_VERSION.min.css" "$out/nhsuk-frontend.min.css" <<'PY'
import re, sys
css = open(sys.argv[1], encoding="utf-8").read()
css = re.sub(r"/\*# sourceMappingURL=[^*]*\*/", "", css)
css, fonts = re.subn(r"@font-face\{[^}]*\}", "", css)
assert fonts == 2, f"expected two @font-face rules, found {fonts}"
css = css.replace("url(/assets/images/", "url(/static/nhsuk/images/")
assert "https://" not in css and "url(/assets" not in css, "a URL to another place is left"
open(sys.argv[2], "w", encoding="utf-8").write(css)
PY
sed -e 's|//# sourceMappingURL=.*||' "$dist/nhsuk-frontend-$NHSUK_VERSION.min.js" > "$out/nhsuk-frontend.min.js"
for icon in $(grep -o 'url(/static/nhsuk/images/[a-z0-9-]*\.svg)' "$out/nhsuk-frontend.min.css" | sort -u | sed -e 's|url(/static/nhsuk/images/||' -e 's|)||'); do
  cp "$dist/assets/images/$icon" "$out/images/$icon"
done
cat > "$out/VENDORED.md" <<MD
# nhsuk-frontend $NHSUK_VERSION

The NHS.UK frontend (https://github.com/nhsuk/nhsuk-frontend), MIT licence, copyright NHS
England. Taken from the npm registry by \`scripts/vendor-frontend.sh\`: the compiled CSS without
its @font-face rules (they load a web font from assets.nhs.uk; the text falls back to Arial),
with icon URLs under /static/nhsuk/images/, the compiled JS, and the icons that the CSS uses.
MD

mkdir -p tests/vendor
cp "$work/axe/package/axe.min.js" tests/vendor/axe.min.js
cat > tests/vendor/VENDORED.md <<MD
# axe-core $AXE_VERSION

The accessibility engine by Deque Systems (https://github.com/dequelabs/axe-core), MPL-2.0
licence, from the npm registry by \`scripts/vendor-frontend.sh\`. Used by the browser tests only;
never served by Matchwell.
MD
echo "vendored nhsuk-frontend $NHSUK_VERSION and axe-core $AXE_VERSION"
