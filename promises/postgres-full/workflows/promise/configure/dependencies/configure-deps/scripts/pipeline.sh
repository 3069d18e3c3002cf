#!/bin/sh
# Promise configure pipeline: deliver the Zalando postgres-operator to every Destination.
#
# Copies every manifest the image carries (/resources, filled at build time from the sha256-pinned upstream
# files) to /kratix/output, as `kratix update dependencies --image` does. Namespaced objects without a
# namespace get `namespace: default` explicitly, because Flux's Kustomize apply can fail on namespace-less
# documents. The insertion relies on two-space indentation under `metadata:`, which holds for the pinned
# files; the contract tests parse the output and check every object.
# Both directories can be overridden to run outside a container (harness.pipeline_local).
set -eu

resources="${PIPELINE_RESOURCES_DIR:-/resources}"
output="${KRATIX_OUTPUT_DIR:-/kratix/output}"
cluster_scoped=" APIService ClusterRole ClusterRoleBinding CustomResourceDefinition MutatingWebhookConfiguration Namespace PersistentVolume PriorityClass StorageClass ValidatingWebhookConfiguration "

add_default_namespace='
function flush(   i) {
  for (i = 1; i <= n; i++) {
    print buf[i]
    if (i == meta && kind != "" && index(scoped, " " kind " ") == 0 && !has_ns) {
      print "  namespace: default"
      defaulted++
    }
  }
  n = 0; meta = 0; kind = ""; has_ns = 0; top = ""
}
/^---/ { flush(); print; next }
{
  buf[++n] = $0
  if ($0 ~ /^[A-Za-z]/) { top = $1; sub(/:$/, "", top) }
  if ($0 ~ /^kind:/) { kind = $2; gsub(/["\047]/, "", kind) }
  if ($0 ~ /^metadata:[ \t]*$/) meta = n
  if (top == "metadata" && $0 ~ /^  namespace:/) has_ns = 1
}
END { flush(); if (defaulted) printf "%d\n", defaulted > "/dev/stderr" }
'

count=0
for file in "$resources"/*.yaml; do
  if [ ! -f "$file" ]; then
    echo "configure-deps: no manifests in $resources; the image was built without its resources"
    exit 1
  fi
  name=$(basename "$file")
  if ! defaulted=$(awk -v scoped="$cluster_scoped" "$add_default_namespace" "$file" 2>&1 >"$output/$name"); then
    echo "configure-deps: cannot process $name: $defaulted"
    exit 1
  fi
  count=$((count + 1))
  if [ -n "$defaulted" ]; then
    echo "configure-deps: $name: set namespace default on $defaulted object(s)"
  fi
done
echo "configure-deps: wrote $count files to $output"
