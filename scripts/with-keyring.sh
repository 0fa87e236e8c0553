#!/usr/bin/env bash
# Run a command inside a private D-Bus session with a fresh, unlocked gnome-keyring (the real
# Secret Service), as the tests and the demo need. The keyring lives in a throwaway folder, so
# a user's own login keyring is never touched; nothing outlives the command.
set -euo pipefail
keyrings=$(mktemp -d)
trap 'rm -rf "$keyrings"' EXIT
dbus-run-session -- bash -c '
  echo -n "agentapp-session" |
    XDG_DATA_HOME="$0" gnome-keyring-daemon --unlock --components=secrets >/dev/null
  "$@"' "$keyrings" "$@" 2> >(grep -v "Failed to set fd limit" >&2)
