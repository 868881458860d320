#!/usr/bin/env bash
# Fetch the JavaScript the built book needs from the npm registry (exact versions) and copy it
# into book/_offline/ (git-ignored), which _config.yml puts on html_static_path. Nothing on the
# site then comes from a CDN:
#   require.js                        <- requirejs (AMD loader the widget manager needs)
#   jupyter-widgets/embed-amd.js      <- @jupyter-widgets/html-manager (renders ipywidgets)
#   jupyter-widgets/*.woff2 ...       <- fonts embed-amd.js loads lazily, next to itself
# MathJax 3 is not fetched here: the pip package sphinx-mathjax-offline ships it.
# Idempotent: does nothing when book/_offline already holds these versions.
set -euo pipefail

REQUIREJS_VERSION=2.3.8
HTML_MANAGER_VERSION=1.0.15   # ipywidgets 8.1 (controls 2.0.0 / base 2.0.0 models)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/book/_offline"
stamp="$dest/VERSIONS"
want="requirejs@$REQUIREJS_VERSION @jupyter-widgets/html-manager@$HTML_MANAGER_VERSION"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$dest/require.js" \
      && -f "$dest/jupyter-widgets/embed-amd.js" && -f "$dest/jupyter-widgets/offline-glue.js" \
      && "$dest/jupyter-widgets/offline-glue.js" -nt "${BASH_SOURCE[0]}" ]]; then
    echo "offline assets: up to date ($want)"
    exit 0
fi

command -v npm >/dev/null || { echo "offline assets: npm is required (apt-get install -y npm)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "offline assets: npm install $want"
echo '{"name": "ganbook-offline-assets", "private": true}' > "$tmp/package.json"
npm install --prefix "$tmp" --no-save --no-package-lock --ignore-scripts --omit=dev \
    --no-audit --no-fund --loglevel=error \
    "requirejs@$REQUIREJS_VERSION" "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION"

hm="$tmp/node_modules/@jupyter-widgets/html-manager"
rq="$tmp/node_modules/requirejs"
got_hm="$(node -p "require('$hm/package.json').version")"
got_rq="$(node -p "require('$rq/package.json').version")"
[[ "$got_hm" == "$HTML_MANAGER_VERSION" && "$got_rq" == "$REQUIREJS_VERSION" ]] || {
    echo "offline assets: got html-manager $got_hm, requirejs $got_rq" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest/jupyter-widgets"
cp "$rq/require.js" "$dest/require.js"
cp "$hm/dist/embed-amd.js" "$dest/jupyter-widgets/"
# webpack assets (icon fonts) that embed-amd.js requests relative to its own URL
find "$hm/dist" -maxdepth 1 -type f \
    \( -name '*.woff' -o -name '*.woff2' -o -name '*.ttf' -o -name '*.eot' -o -name '*.svg' \) \
    -exec cp {} "$dest/jupyter-widgets/" \;
cat > "$dest/jupyter-widgets/offline-glue.js" <<'JS'
/* Loaded after require.js and before embed-amd.js (see nb_ipywidgets_js in _config.yml). */
(function () {
  // embed-amd.js defines its AMD modules by name; require.js would resolve their URLs
  // against the page, and the widget manager loads its icon fonts next to its own module
  // URL. Point the @jupyter-widgets modules at this folder, where the fonts were copied.
  var src = document.currentScript.src;
  var here = src.slice(0, src.lastIndexOf("/"));
  window.require.config({
    paths: {
      "@jupyter-widgets": here,
      "@jupyter-widgets/html-manager/dist": here
    }
  });
  // ipywidgets 8 typesets widget labels with MathJax 2's MathJax.Hub.Queue; the book serves
  // MathJax 3 (sphinx-mathjax-offline). Offer that one call on top of MathJax 3. Widgets are
  // rendered on window "load", after MathJax (a deferred script) has been set up.
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (mj && mj.version && !mj.Hub) {
      mj.Hub = {
        Queue: function (job) {
          var el = job && job[2];
          if (el && mj.startup && mj.startup.promise && mj.typesetPromise) {
            mj.startup.promise.then(function () { return mj.typesetPromise([el]); });
          }
        }
      };
    }
  });
})();
JS
cp "$hm/LICENSE" "$dest/jupyter-widgets/LICENSE" 2>/dev/null || true
cp "$rq/LICENSE" "$dest/LICENSE.requirejs" 2>/dev/null || true
echo "$want" > "$stamp"
echo "offline assets: wrote $(find "$dest" -type f | wc -l) files to book/_offline/"
