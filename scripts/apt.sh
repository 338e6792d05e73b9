# Sourced by scripts/setup.sh and vm-images/build.sh: installs the Debian
# packages that are missing, through sudo when not root.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# ensure_packages WHAT PACKAGE...: WHAT names them in the progress line.
ensure_packages() {
  local what="$1" p missing=()
  shift
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  printf '\033[1m==> installing %s: %s\033[0m\n' "$what" "${missing[*]}" >&2
  # A mirror mid-sync can fail one index; the packages we need still resolve.
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
